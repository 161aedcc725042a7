"""Helpers the benchmark scripts' table printers share (imported from their heredocs)."""


def parse_values(results, key):
    """One value per round from a space-separated results entry (None where a round failed)."""
    out = []
    for v in results.get(key, "").split():
        try:
            out.append(float(v))
        except ValueError:
            out.append(None)
    return out


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2
