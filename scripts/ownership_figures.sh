#!/usr/bin/env bash
# Ownership figures: counts of lock takes, threads, sleeps, lock kinds, long lines, file sizes,
# page-cache field writes and swallowed errors over Sources/, counted the same way on any tree so
# that a refactor's "before" and "after" can be compared.
#
#   scripts/ownership_figures.sh [-v] [ROOT]      (ROOT defaults to `.`; it must hold Sources/)
#   scripts/ownership_figures.sh --check [ROOT]   (exit 1 when an ownership rule is broken; `make lint`)
#
# Prints one `name: count` per line. With -v, each figure is followed by its sites, indented, as
# `path:line: code` (paths relative to ROOT).
#
# Counting rules that hold for every figure unless its comment says otherwise:
#   - Only Sources/**/*.swift.
#   - Comments do not count: `//` to the end of the line is removed when the `//` is outside a
#     string literal (quote parity on the line; `"""` blocks are not tracked). There are no
#     `/* */` comments in Sources/.
#   - A site is a source line: a line that matches twice counts once.
set -euo pipefail
export LC_ALL=C.UTF-8   # so that grep counts characters, not bytes, for the line lengths

verbose=0
if [[ ${1:-} == --check ]]; then
    # Fails (exit 1, naming the sites) when an ownership rule is broken: the page cache's lock or
    # its objects' and pages' fields touched outside Engine/PageCache/, or a thread started other
    # than through Engine/Threads/ (the benchmark command's client threads aside).
    shift
    report=$(bash "$0" -v "${1:-.}") || exit 2
    broken=0
    for figure in cache_lock_sites_outside_pagecache cache_state_borrowers_outside pagecache_field_writes_outside; do
        count=$(grep "^$figure: " <<<"$report" | awk '{print $2}')
        if [[ $count != 0 ]]; then
            echo "ownership: $figure is $count (must be 0):" >&2
            awk -v f="$figure: " 'index($0, f) == 1 {on = 1; next} /^[a-z_.]+: / {on = 0} on' <<<"$report" >&2
            broken=1
        fi
    done
    strays=$(awk '/^thread_start_sites: / {on = 1; next} /^[a-z_.]+: / {on = 0} on' <<<"$report" \
        | grep -v -e 'Sources/Engine/Threads/' -e 'Sources/Appliance/Commands/BenchEngineCommand.swift' || true)
    if [[ -n $strays ]]; then
        echo "ownership: threads started outside Engine/Threads/:" >&2
        echo "$strays" >&2
        broken=1
    fi
    ((broken)) && exit 1
    echo "ownership rules hold"
    exit 0
fi
if [[ ${1:-} == -v ]]; then verbose=1; shift; fi
root=${1:-.}
cd "$root"
[[ -d Sources ]] || { echo "no Sources/ under $root" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

find Sources -name '*.swift' -type f | LC_ALL=C sort >"$tmp/files"

# $tmp/code: every non-blank line of code as `path:line: code`, comments removed.
tr '\n' '\0' <"$tmp/files" | xargs -0 awk '
    function strip(s,    i, c, q) {
        if (index(s, "//") == 0) return s
        q = 0
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (q) {
                if (c == "\\") i++
                else if (c == "\"") q = 0
            } else if (c == "\"") q = 1
            else if (c == "/" && substr(s, i + 1, 1) == "/") return substr(s, 1, i - 1)
        }
        return s
    }
    { code = strip($0); if (code ~ /[^ \t]/) print FILENAME ":" FNR ": " code }
' >"$tmp/code"

# emit NAME FILE: prints `NAME: <lines in FILE>`, and with -v the lines themselves.
emit() {
    echo "$1: $(wc -l <"$2" | tr -d ' ')"
    if ((verbose)); then sed 's/^/    /' "$2"; fi
}

# sites REGEX [grep options]: lines of code matching the extended regex.
sites() { grep -E "$@" "$tmp/code" || true; }

outside_pagecache() { grep -v '^Sources/Engine/PageCache/' || true; }

# --- a. The page-cache lock taken outside Sources/Engine/PageCache/ ---------------------------
# The lock is `PageCache.state: Lock<PageCache.State>`, taken with `.state.withLock { }`.
# Counted, on lines of files outside Sources/Engine/PageCache/:
#   1. direct use of the lock: `<x>Cache.state` / `<x>cache.state`, i.e. the regex
#        \b[A-Za-z_]*[cC]ache\.state\b
#      (`pageCache.state.withLock`, `engine.pageCache.state.withLock`, `cache.state.withLock`);
#   2. calls of a thin wrapper that hands out the locked state: a function (anywhere in Sources)
#      with a closure parameter of exactly the type `(inout PageCache.State)` — at 01460f3 these
#      are `withCacheEntry` and `withIdleObject` (Engine/Buffered/CacheEntry.swift). Calls are
#        \b(withCacheEntry|withIdleObject)\(     on lines that are not their `func` declaration.
#      A wrapper calling another wrapper (`withIdleObject` → `withCacheEntry`) is a site too.
# Not counted: PageCache's own methods that lock inside (`pageCache.stats(…)`,
# `pageCache.dirtyPages`), `commitBypassingCache` (it takes the lock inside CacheEntry.swift, where
# those takes are counted; its `install:` closure runs under the lock), and functions that are
# handed `inout PageCache.State` (they run under a lock taken elsewhere; see
# cache_state_borrowers_outside below).
wrappers=$(awk '
    match($0, /func [A-Za-z_][A-Za-z0-9_]*/) { name = substr($0, RSTART + 5, RLENGTH - 5) }
    /\(inout PageCache\.State\)/ && name != "" { print name; name = "" }
' $(cat "$tmp/files") | sort -u | paste -sd'|' -)
lockre='\b[A-Za-z_]*[cC]ache\.state\b'
[[ -n $wrappers ]] && lockre="$lockre|\\b($wrappers)\\("
sites "$lockre" | { if [[ -n $wrappers ]]; then grep -Ev "func ($wrappers)\\b" || true; else cat; fi; } \
    | outside_pagecache >"$tmp/a"
emit cache_lock_sites_outside_pagecache "$tmp/a"
if ((verbose)); then echo "    (wrappers handing out the locked state: ${wrappers:-none})"; fi
cut -d: -f1 "$tmp/a" | sort -u >"$tmp/a_files"
emit cache_lock_files_outside_pagecache "$tmp/a_files"

# Extra: functions outside PageCache/ that are handed the locked state: a parameter
# `inout PageCache.State` in the `func` line's parameter list (not inside a closure type, so
# not the wrappers above). They touch the cache's insides under a lock someone else took.
sites 'func [A-Za-z_][A-Za-z0-9_]*(<[^>]*>)?\([^()]*inout PageCache\.State' | outside_pagecache >"$tmp/borrow"
emit cache_state_borrowers_outside "$tmp/borrow"

# --- b. Places that start threads ----------------------------------------------------------------
# `Thread {`, `Thread(` (not `Thread.sleep(` etc.), `Thread.detachNewThread`, `pthread_create`,
# `DispatchQueue(` (a queue made), `.async {` / `.async(` / `.asyncAfter(` on a dispatch queue.
sites '\bThread *\{|\bThread\(|Thread\.detachNewThread|\bpthread_create\b|\bDispatchQueue\(|\.async(After)? *[({]' >"$tmp/b"
emit thread_start_sites "$tmp/b"

# --- c. Sleeps -------------------------------------------------------------------------------------
# Calls of `usleep(`, `nanosleep(`, `Thread.sleep(`, and the libc `sleep(` — a bare `sleep(` whose
# first argument is not labelled. Not counted: identifiers that contain the word
# (`sleepUntil`, `asleep`), `func sleep` declarations, and calls like `sleep(seconds:)` or
# `self.sleep(…)`, which are the scrubber's and the janitor's own waits on a condition.
sites '\b(usleep|nanosleep)\(|\bThread\.sleep\(|(^|[^A-Za-z0-9_.])sleep\((\)|[^a-zA-Z_)]|[a-zA-Z_][A-Za-z0-9_.]*[^A-Za-z0-9_.:])' \
    | { grep -Ev 'func (u|nano)?sleep\(' || true; } >"$tmp/c"
emit sleep_loops "$tmp/c"

# --- d. Kinds of lock and synchronization primitive ----------------------------------------------
# A use is a line of code that names the primitive (type, constructor or C call). `Lock` is the
# project's Lock<State> (Engine/Lock.swift), named as `Lock<` or `Lock(`; `Mutex` is
# Synchronization.Mutex, `Mutex<` or `Mutex(`; `Atomic` is Synchronization.Atomic (`Atomic<`).
# lock_kinds is the number of kinds with at least one use; each kind follows as lock_kind.NAME.
kinds=(
    'Lock:\bLock[<(]'
    'Mutex:\bMutex[<(]'
    'NSCondition:\bNSCondition\b'
    'NSLock:\bNSLock\b'
    'DispatchSemaphore:\bDispatchSemaphore\b'
    'DispatchGroup:\bDispatchGroup\b'
    'pthread_mutex:\bpthread_mutex'
    'pthread_cond:\bpthread_cond'
    'os_unfair_lock:\bos_unfair_lock'
    'Atomic:\bAtomic[<(]'
    'ManagedAtomic:\bManagedAtomic\b'
    'flock:\bflock\('
)
used=0
for entry in "${kinds[@]}"; do
    name=${entry%%:*}
    # The pthread calls inside Engine/Lock.swift are Lock itself, counted as `Lock`.
    sites "${entry#*:}" | { grep -v '^Sources/Engine/Lock.swift:' || true; } >"$tmp/d_$name"
    if [[ -s $tmp/d_$name ]]; then used=$((used + 1)); fi
done
echo "lock_kinds: $used"
for entry in "${kinds[@]}"; do
    name=${entry%%:*}
    emit "lock_kind.$name" "$tmp/d_$name"
done

# --- e. Long lines (raw lines, comments included; length in characters) ------------------------
for limit in 120 150; do
    tr '\n' '\0' <"$tmp/files" | xargs -0 grep -nE "^.{$((limit + 1))}" | sed -E 's/^([^:]+:[0-9]+):(.{60}).*/\1: \2…/' >"$tmp/e$limit" || true
    emit "lines_over_$limit" "$tmp/e$limit"
done

# --- f. Files and their sizes (lines as `wc -l` counts them) --------------------------------------
tr '\n' '\0' <"$tmp/files" | xargs -0 wc -l | grep -v ' total$' >"$tmp/sizes"
files=$(wc -l <"$tmp/files" | tr -d ' ')
echo "swift_files: $files"
echo "swift_lines: $(awk '{ n += $1 } END { print n + 0 }' "$tmp/sizes")"
awk '$1 > 300 { print $2 ": " $1 " lines" }' "$tmp/sizes" >"$tmp/f"
emit files_over_300_lines "$tmp/f"
awk -v all="$files" -v over="$(wc -l <"$tmp/f")" 'BEGIN { printf "pct_files_le_300: %.1f\n", all ? 100 * (all - over) / all : 0 }'

# --- g. Writes to CachedObject / Page fields from outside PageCache/ ------------------------------
# Fields: the stored, non-private `var`s of `final class CachedObject` and `final class Page`,
# read from their definitions under Sources/Engine/PageCache/ (a `var` line without `{`, so not a
# computed property; at 01460f3: extents replacesCommitted committedSize committedExists createdAt
# size etag contentType attributes modifiedAt pages metadataDirty dirtySince reservedLogical
# lifecycle committedID lastError commitGeneration metadataGeneration dirtyPageCount | state
# generation referenced sendPins).
# Mutating methods: every `mutating func` declared under Sources/Engine/PageCache/ (those of
# PageState, SectorState and ObjectLifecycle, the value types of `state` and `lifecycle`), plus
# the collection mutators append insert remove* reserveCapacity sort merge swapAt updateValue (for
# `pages` and `extents`).
# The receiver is recognised by name: `object`, `page` or `placeholder` (possibly after a `.`, as
# `entry.page` or `$0.object`), the names the code gives these types. A write is
#   \b(object|page|placeholder)\.(FIELD)(\[…\])?\s*(=|+=|-=)       (not `==`), or
#   \b(object|page|placeholder)\.(FIELD)\.(MUTATOR)\(
fields=$(awk '
    /class (CachedObject|Page)[ :{]/ { inside = 1; next }
    inside && /^}/ { inside = 0 }
    inside && /^    (package |internal )?var [A-Za-z_]/ && !/\{/ {
        sub(/^    (package |internal )?var /, ""); sub(/[^A-Za-z0-9_].*/, ""); print
    }
' Sources/Engine/PageCache/*.swift | sort -u | paste -sd'|' -)
mutators=$( { grep -ho 'mutating func [A-Za-z_][A-Za-z0-9_]*' Sources/Engine/PageCache/*.swift | awk '{ print $3 }'
    printf '%s\n' append insert 'remove[A-Za-z]*' reserveCapacity sort merge swapAt updateValue; } | sort -u | paste -sd'|' -)
recv='\b(object|page|placeholder)'
sites "$recv\\.($fields)(\\[[^]]*\\])?[[:space:]]*(=|\\+=|-=)([^=]|\$)|$recv\\.($fields)\\.($mutators)\\(" \
    | outside_pagecache >"$tmp/g"
emit pagecache_field_writes_outside "$tmp/g"
if ((verbose)); then echo "    (fields: $fields)"; echo "    (mutators: $mutators)"; fi

# --- h. Swallowed errors ---------------------------------------------------------------------------
# try_question_catalog: lines with the keyword `try?` (not `Entry?`) in Sources/Engine. The name
# is the one asked for; the count covers the whole Engine module, where the catalog is called.
# empty_catch: `catch {}` / `catch { }` anywhere in Sources.
sites '\btry\?' | grep '^Sources/Engine/' >"$tmp/h1" || true
emit try_question_catalog "$tmp/h1"
sites 'catch[[:space:]]*\{[[:space:]]*\}' >"$tmp/h2"
emit empty_catch "$tmp/h2"
