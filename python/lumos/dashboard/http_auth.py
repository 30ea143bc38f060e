"""The dashboard's door: who may see a page or call an API.

A request gets in with the cluster token, given one of three ways:
  * `Authorization: Bearer TOKEN` (scripts, the jobs SDK),
  * `?token=TOKEN` in the URL once (a link printed by `lumos start`), or the
    login form (POST /login); both answer with a session cookie,
  * that cookie afterwards.
The cookie holds an HMAC of the token, not the token itself: a leaked
cookie opens this dashboard but not the cluster's gRPC ports. It is
HttpOnly (page scripts cannot read it) and SameSite=Strict (another site's
page cannot send it along with a forged request).

Anything else gets 401 and no data: a browser (Accept: text/html) the login
form, a script a JSON error.
"""
import hashlib
import hmac
import html
import urllib.parse

COOKIE_NAME = "lumos_dashboard"
LOGIN_PATH = "/login"


class Authenticator:
    """Checks requests against one cluster token. Thread safe (immutable)."""

    def __init__(self, token: str):
        if not token:
            raise ValueError("the dashboard needs the cluster token (it refuses every request without one)")
        self._token = token.encode()
        self.cookie_value = hmac.new(self._token, b"lumos-dashboard-session", hashlib.sha256).hexdigest()

    def token_ok(self, candidate: str) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self._token)

    def cookie_ok(self, headers) -> bool:
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE_NAME and hmac.compare_digest(value.encode(), self.cookie_value.encode()):
                return True
        return False

    def bearer_ok(self, headers) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(value.strip())

    def set_cookie_header(self) -> str:
        return "%s=%s; Path=/; HttpOnly; SameSite=Strict" % (COOKIE_NAME, self.cookie_value)


def wants_html(headers) -> bool:
    return "text/html" in headers.get("accept", "")


def without_token(path: str, query: dict) -> str:
    """`path` with the query string minus `token` (where ?token= redirects to)."""
    rest = {k: v for k, v in query.items() if k != "token"}
    return path + ("?" + urllib.parse.urlencode(rest) if rest else "")


def safe_next(target: str) -> str:
    """A redirect target inside this site only (no //host or scheme)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(next_path: str, failed: bool) -> str:
    """The login form (served with status 401)."""
    note = '<p class="err">That token is not this cluster\'s token.</p>' if failed else ""
    return """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lumos dashboard: sign in</title>
<style>body{font:15px system-ui,sans-serif;background:#f4f5f7;margin:0}main{max-width:30em;margin:4em auto;
background:#fff;padding:1.5em 2em;border-radius:6px;box-shadow:0 1px 3px #0002}.err{color:#b00020}
input[type=password]{width:100%%;margin:.4em 0 1em;padding:.4em;box-sizing:border-box}</style></head>
<body><main>
<h1>lumos dashboard</h1>
<p>This dashboard needs the cluster token. It is in <code>&lt;session_dir&gt;/auth_token</code>
on the head node (or in <code>$LUMOS_AUTH_TOKEN</code>).</p>
%s
<form method="post" action="%s">
<input type="hidden" name="next" value="%s">
<label>Cluster token <input type="password" name="token" autocomplete="current-password" autofocus></label>
<button type="submit">Sign in</button>
</form></main></body></html>
""" % (note, LOGIN_PATH, html.escape(safe_next(next_path), quote=True))
