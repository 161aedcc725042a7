// The console's HTML, as Mustache templates compiled into the binary: `{{name}}` is escaped
// (so a key named `<img src=x onerror=alert(1)>` shows as text), `{{{body}}}` only ever carries
// HTML a template rendered. No inline script or style: the Content-Security-Policy forbids both.
import Mustache

enum ConsoleTemplates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in templates {
            do { try library.register(text, named: name) } catch { preconditionFailure("console template \(name): \(error)") }
        }
        return library
    }()

    static func render(_ name: String, _ data: [String: Any]) -> String {
        guard let html = library.render(data, withTemplate: name) else { preconditionFailure("no console template \(name)") }
        return html
    }

    static let templates: [String: String] = [
        "layout": """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · appliance</title>
        <link rel="stylesheet" href="/ui/static/console.css">
        <script src="/ui/static/console.js" defer></script>
        </head>
        <body{{#refresh}} data-refresh="{{refresh}}"{{/refresh}}>
        <header>
        <a class="brand" href="/ui/">appliance</a>
        {{#signed_in}}
        <nav aria-label="Main">{{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a>{{/nav}}</nav>
        <form method="post" action="/ui/logout" class="logout"><input type="hidden" name="csrf" value="{{csrf}}"><span class="who">{{who}}</span> <button type="submit">Log out</button></form>
        {{/signed_in}}
        </header>
        <main>
        {{#flash}}<p class="flash{{#isError}} error{{/isError}}" role="status">{{text}}</p>{{/flash}}
        <h1>{{title}}</h1>
        {{{body}}}
        </main>
        </body>
        </html>
        """,
        "login": """
        <form method="post" action="/ui/login" class="card login">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <p>Log in with the admin token (<code>&lt;data-dir&gt;/token</code>), or with an S3 access key: the console then allows what the key's permissions allow.</p>
        <label>Admin token <input type="password" name="token" autocomplete="off" autofocus></label>
        <p class="or">or</p>
        <label>Access key id <input type="text" name="access_key" autocomplete="username"></label>
        <label>Secret access key <input type="password" name="secret" autocomplete="current-password"></label>
        <button type="submit">Log in</button>
        </form>
        """,
        "bar": """
        <svg class="bar" viewBox="0 0 1000 24" preserveAspectRatio="none" role="img" aria-label="{{label}}">{{#segments}}<rect class="{{kind}}" x="{{x}}" y="0" width="{{width}}" height="24"><title>{{title}}</title></rect>{{/segments}}</svg>
        <p class="legend">{{#segments}}<span class="swatch {{kind}}"></span>{{title}} {{/segments}}</p>
        """,
        "overview": """
        {{^admin}}
        <section class="card">
        <h2>Your access</h2>
        <p>Logged in with access key <code>{{key_id}}</code>: {{volume_count}} volume(s) you may read. The pool, its devices and its activity are shown to the administrator only, as S3 shows them to no key.</p>
        <p><a class="button" href="/ui/volumes">Volumes</a></p>
        </section>
        {{/admin}}
        {{#admin}}
        <section class="card">
        <h2>Pool capacity</h2>
        {{{bar}}}
        <dl class="figures">
        <div><dt>Capacity</dt><dd>{{capacity}}</dd></div>
        <div><dt>Used (allocated)</dt><dd>{{allocated}}</dd></div>
        <div><dt>Reserved</dt><dd>{{reserved}}</dd></div>
        <div><dt>Free</dt><dd>{{free}}</dd></div>
        <div><dt>Degraded</dt><dd class="{{#degraded_alert}}alert{{/degraded_alert}}">{{degraded}}</dd></div>
        <div><dt>Volumes</dt><dd>{{volume_count}}</dd></div>
        </dl>
        </section>
        <section class="card">
        <h2>Devices</h2>
        <table><thead><tr><th>Device</th><th>State</th><th>Used</th><th>Errors</th></tr></thead><tbody>
        {{#devices}}<tr><td>{{name}}</td><td><span class="state {{state}}">{{state}}</span></td><td>{{used}} of {{capacity}}</td><td>{{errors}}</td></tr>{{/devices}}
        </tbody></table>
        </section>
        <section class="card">
        <h2>Catalog copies</h2>
        <p>{{metadata_healthy}} healthy of {{metadata_wanted}} wanted{{#metadata_short}} <span class="alert">(fewer than wanted)</span>{{/metadata_short}}.</p>
        </section>
        <section class="card">
        <h2>Scrub</h2>
        <p>State: <strong>{{scrub_state}}</strong>{{#scrub_progress}}, {{scrub_progress}} checked{{/scrub_progress}}. Last finished: {{scrub_finished}}. Errors found: {{scrub_errors}}, repaired: {{scrub_repaired}}.</p>
        <form method="post" action="/ui/scrub"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Start a scrub</button></form>
        </section>
        {{/admin}}
        """,
        "volumes": """
        <div class="scroll"><table>
        <thead><tr><th>Volume</th><th>Used</th><th>Reserved</th><th>Dirty</th><th>Cached</th><th>Objects</th><th>Capacity</th>{{#admin}}<th>Change</th>{{/admin}}</tr></thead>
        <tbody>
        {{#volumes}}<tr>
        <td><a href="/ui/volumes/{{path}}/objects">{{name}}</a><br><small>{{provisioning}}, {{replicas}} replica(s){{#versioning}}, versioning {{versioning}}{{/versioning}}</small></td>
        <td>{{used}}{{#versioning}}<br><small>{{noncurrent}} in older versions</small>{{/versioning}}{{#snapshots}}<br><small>{{snapshots}} held by snapshots</small>{{/snapshots}}</td><td>{{reserved}}</td><td>{{dirty}}<br><small>{{dirty_pages}} pages, {{writeback_pages}} in writeback</small></td><td>{{cached}}</td><td>{{objects}}</td><td>{{capacity}}</td>
        {{#admin}}<td>
        <form method="post" action="/ui/volumes/{{path}}/resize" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><label><span class="sr">New capacity of {{name}} in bytes</span><input type="number" name="capacity_bytes" min="1" required value="{{capacity_bytes}}"></label><button type="submit">Resize</button></form>
        <form method="post" action="/ui/volumes/{{path}}/delete" class="inline" data-confirm="Delete volume {{name}} and all its objects?"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Delete</button></form>
        </td>{{/admin}}
        </tr>{{/volumes}}
        {{^volumes}}<tr><td colspan="8">No volumes yet.</td></tr>{{/volumes}}
        </tbody></table></div>
        <p class="hint">Reserved: pool space held for writes accepted but not yet on disk (and for thick volumes), so writeback never runs out of space. Dirty: cached data not yet written back.</p>
        {{#fleet}}<h2>On other nodes of the fleet</h2>
        <div class="scroll"><table>
        <thead><tr><th>Volume</th><th>Node</th></tr></thead>
        <tbody>
        {{#elsewhere}}<tr><td>{{#console}}<a href="{{console}}">{{name}}</a>{{/console}}{{^console}}{{name}}{{/console}}</td><td>{{node}}</td></tr>{{/elsewhere}}
        </tbody></table></div>
        <p class="hint">Each node's console shows its own volumes' figures and objects; the link opens the volume on its node (log in there with the same token). Objects and S3 reach every volume through any node.</p>{{/fleet}}
        {{#admin}}
        <form method="post" action="/ui/volumes" class="card">
        <h2>Create a volume</h2>
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Name <input type="text" name="name" required pattern="[a-z0-9][a-z0-9-]{1,61}[a-z0-9]" title="3 to 63 lowercase letters, digits and '-'"></label>
        <label>Capacity (bytes) <input type="number" name="capacity_bytes" min="1" required value="1073741824"></label>
        <label>Replicas <input type="number" name="replicas" min="1" max="16" value="1"></label>
        <label>Provisioning <select name="provisioning"><option value="thin">thin</option><option value="thick">thick</option></select></label>
        <button type="submit">Create</button>
        </form>
        {{/admin}}
        """,
        "objects": """
        <p class="crumbs"><a href="/ui/volumes/{{volume_path}}/objects">{{volume}}</a>{{#crumbs}} / <a href="/ui/volumes/{{volume_path}}/objects?prefix={{prefix_query}}">{{name}}</a>{{/crumbs}}</p>
        <div class="scroll"><table>
        <thead><tr><th>Name</th><th>Size</th><th>Modified</th><th>Actions</th></tr></thead>
        <tbody>
        {{#folders}}<tr><td colspan="4"><a class="folder" href="/ui/volumes/{{volume_path}}/objects?prefix={{prefix_query}}">{{name}}</a></td></tr>{{/folders}}
        {{#objects}}<tr>
        <td class="key">{{name}}</td><td>{{size}}</td><td>{{modified}}</td>
        <td>
        <a href="/ui/volumes/{{volume_path}}/download/{{key_path}}">Download</a>
        <form method="post" action="/ui/volumes/{{volume_path}}/objects/share" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}"><label><span class="sr">Link valid for</span><select name="expires"><option value="3600">1 hour</option><option value="86400">1 day</option><option value="604800">7 days</option></select></label><button type="submit">Share link</button></form>
        {{#writable}}<form method="post" action="/ui/volumes/{{volume_path}}/objects/delete" class="inline" data-confirm="Delete this object?"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}"><input type="hidden" name="prefix" value="{{prefix}}"><button type="submit" class="danger">Delete</button></form>{{/writable}}
        </td>
        </tr>{{/objects}}
        {{^folders}}{{^objects}}<tr><td colspan="4">Nothing here{{#prefix}} under this prefix{{/prefix}}.</td></tr>{{/objects}}{{/folders}}
        </tbody></table></div>
        {{#next}}<p><a class="button" href="/ui/volumes/{{volume_path}}/objects?prefix={{prefix_query}}&amp;after={{next}}">Next page</a></p>{{/next}}
        {{#writable}}
        <form id="upload" class="card" data-action="/ui/volumes/{{volume_path}}/upload/" data-prefix="{{prefix}}">
        <h2>Upload</h2>
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>File <input type="file" name="file" required></label>
        <label>Key <input type="text" name="key" placeholder="{{prefix}}name of the file"></label>
        <button type="submit">Upload</button>
        <progress max="100" value="0" hidden></progress> <span class="upload-status" role="status"></span>
        </form>
        {{/writable}}
        """,
        "share": """
        <section class="card">
        <p>Anyone with this link can download <strong>{{key}}</strong> from volume <strong>{{volume}}</strong> until {{expires}}.</p>
        <p><input type="text" readonly class="link" value="{{url}}" aria-label="Share link"></p>
        <p><a href="/ui/volumes/{{volume_path}}/objects?prefix={{prefix_query}}">Back to the volume</a></p>
        </section>
        """,
        "devices": """
        <div class="scroll"><table>
        <thead><tr><th>Device</th><th>State</th><th>Used</th><th>Drain / rebuild</th><th>Change</th></tr></thead>
        <tbody>
        {{#devices}}<tr>
        <td>{{name}}<br><small>{{id}}</small><br><small>{{path}}</small></td>
        <td><span class="state {{state}}">{{state}}</span></td>
        <td>{{used}} of {{capacity}}</td>
        <td>{{#draining}}<progress max="100" value="{{percent}}" aria-label="drain progress of {{name}}"></progress> {{moved}} moved, {{remaining}} to go{{/draining}}{{^draining}}{{moved}} moved{{/draining}}</td>
        <td>
        <form method="post" action="/ui/devices/{{id}}/state" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><label><span class="sr">State of {{name}}</span><select name="state">{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/states}}</select></label><button type="submit">Set</button></form>
        <form method="post" action="/ui/devices/{{id}}/remove" class="inline" data-confirm="Remove device {{name}} from the pool?"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Remove</button></form>
        </td>
        </tr>{{/devices}}
        </tbody></table></div>
        <p class="hint">Drain moves every copy off a device (then it can be removed); readonly keeps its copies but takes no new writes.</p>
        <form method="post" action="/ui/devices" class="card">
        <h2>Add a device</h2>
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Path <input type="text" name="path" required placeholder="/dev/disk/by-id/..."></label>
        <label>Label <input type="text" name="label"></label>
        <label><input type="checkbox" name="force" value="true"> It holds data I do not need (force)</label>
        <button type="submit">Add</button>
        </form>
        """,
        "keys": """
        {{#created}}
        <section class="card secret" role="alert">
        <h2>Access key created</h2>
        <p>Copy the secret now: it is shown this once and never again.</p>
        <dl class="figures"><div><dt>Access key id</dt><dd><code class="created-id">{{id}}</code></dd></div><div><dt>Secret access key</dt><dd><code class="created-secret">{{secret}}</code></dd></div></dl>
        </section>
        {{/created}}
        <div class="scroll"><table>
        <thead><tr><th>Key</th><th>Name</th><th>Permissions</th><th>Created</th><th></th></tr></thead>
        <tbody>
        {{#keys}}<tr><td><code>{{id}}</code></td><td>{{name}}</td><td>{{permissions}}</td><td>{{created}}</td>
        <td><form method="post" action="/ui/keys/{{id}}/delete" class="inline" data-confirm="Delete access key {{id}}?"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Delete</button></form></td></tr>{{/keys}}
        {{^keys}}<tr><td colspan="5">No access keys.</td></tr>{{/keys}}
        </tbody></table></div>
        <form method="post" action="/ui/keys" class="card">
        <h2>Create an access key</h2>
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Name <input type="text" name="name" required></label>
        <fieldset><legend>Permissions per volume</legend>
        {{#volumes}}<label>{{name}} <select name="perm:{{name}}"><option value="">none</option><option value="read">read</option><option value="write">write</option><option value="owner">owner</option></select></label>{{/volumes}}
        <label>Every volume (*) <select name="perm:*"><option value="">none</option><option value="read">read</option><option value="write">write</option><option value="owner">owner</option></select></label>
        </fieldset>
        <label><input type="checkbox" name="create_buckets" value="true"> May create buckets</label>
        <button type="submit">Create</button>
        </form>
        """,
        "activity": """
        <p class="hint">The last hour, sampled every {{interval}} seconds by the server.</p>
        <div class="charts">{{#charts}}<figure class="card"><figcaption>{{title}} <small>(now {{now}}, peak {{peak}})</small></figcaption>{{{svg}}}</figure>{{/charts}}</div>
        """,
        "message": """
        <section class="card"><p>{{text}}</p>{{#back}}<p><a href="{{back}}">Back</a></p>{{/back}}</section>
        """,
    ]
}
