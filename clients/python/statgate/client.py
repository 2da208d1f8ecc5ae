"""The statgate client: one Client per server and token."""

import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

MEDIA_JSON = "application/json"
MEDIA_ARROW = "application/vnd.apache.arrow.stream"


class StatgateError(Exception):
    """A problem+json answer of the API (a refusal, an auth failure, a
    budget exhaustion, ...), or a transport failure (status 0).

    Attributes: status (HTTP status), code (stable snake_case code, e.g.
    "select_star", "budget_exhausted"), title, detail, hint (what to do
    instead, may be empty) and request_id (matches the server's log)."""

    def __init__(self, status, code, title="", detail="", hint="", request_id=""):
        self.status, self.code, self.title = status, code, title
        self.detail, self.hint, self.request_id = detail, hint, request_id
        msg = f"statgate {status} {code}: {detail or title}"
        if hint:
            msg += f" (hint: {hint})"
        super().__init__(msg)


class Rows(list):
    """A released result as a list of flat dicts, with the result's meta."""

    def __init__(self, rows, meta, columns):
        super().__init__(rows)
        self.meta = meta
        self.columns = columns

    @property
    def warnings(self):
        """The result's warnings (an answer that is mostly noise)."""
        return self.meta.get("warnings") or []


def _have_pandas():
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def _have_pyarrow():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def flatten(result):
    """The flat rows of a result body (the API's JSON) and their column
    names, as documented in the package."""
    cols = result.get("columns") or []
    has_margin = any(r.get("margin") for r in result.get("rows") or [])
    names = []
    for c in cols:
        if c["role"] == "key":
            names.append(c["name"])
        else:
            m = c["name"]
            names += [m, m + "_stddev", m + "_ci_low", m + "_ci_high", m + "_suppressed"]
    if has_margin:
        names.append("margin")
    out = []
    for r in result.get("rows") or []:
        row = {}
        for c, cell in zip(cols, r["cells"]):
            if c["role"] == "key":
                row[c["name"]] = cell.get("value")
                continue
            m = c["name"]
            ci = cell.get("ci95") or [None, None]
            sup = bool(cell.get("suppressed"))
            row[m] = None if sup else cell.get("value")
            row[m + "_stddev"] = cell.get("stddev")
            row[m + "_ci_low"], row[m + "_ci_high"] = (None, None) if sup else (ci[0], ci[1])
            row[m + "_suppressed"] = (cell.get("reason") or "suppressed") if sup else None
        if has_margin:
            row["margin"] = bool(r.get("margin"))
        out.append(row)
    return out, names


class Client:
    """A connection to one statgate server with one bearer token."""

    def __init__(self, url, token, timeout=120, as_frame=None):
        """url: the server's base URL (e.g. http://127.0.0.1:8080); token:
        an API token (`statgate token create`); as_frame: True for pandas
        DataFrames, False for lists of dicts, None for DataFrames when
        pandas is installed."""
        if not url:
            raise ValueError("statgate: a server URL is required, e.g. http://127.0.0.1:8080")
        if not token:
            raise ValueError("statgate: a token is required (statgate token create, or the demo's printout)")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        if as_frame and not _have_pandas():
            raise ValueError("statgate: as_frame=True needs pandas")
        self.as_frame = _have_pandas() if as_frame is None else as_frame

    # ----------------------------------------------------------- transport

    def _request(self, method, path, body=None, accept=MEDIA_JSON):
        data = None
        headers = {"Authorization": "Bearer " + self.token, "Accept": accept}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = MEDIA_JSON
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                p = json.loads(raw)
            except ValueError:
                raise StatgateError(e.code, "http_error", detail=raw[:200].decode("utf-8", "replace")) from None
            raise StatgateError(e.code, p.get("code", "http_error"), p.get("title", ""), p.get("detail", ""),
                                p.get("hint", ""), p.get("request_id", "")) from None
        except urllib.error.URLError as e:
            raise StatgateError(0, "unreachable", detail=f"{self.url}: {e.reason}",
                                hint="is `statgate serve` (or `statgate demo`) running at this address?") from None

    def _json(self, method, path, body=None):
        raw, _ = self._request(method, path, body)
        return json.loads(raw)

    def _result(self, path, body, arrow=False):
        if arrow:
            if not (_have_pyarrow() and _have_pandas()):
                raise ValueError("statgate: arrow=True needs pyarrow and pandas")
            import pyarrow.ipc
            raw, _ = self._request("POST", path, body, accept=MEDIA_ARROW)
            table = pyarrow.ipc.open_stream(raw).read_all()
            meta = json.loads((table.schema.metadata or {}).get(b"statgate.meta", b"{}"))
            df = table.to_pandas()
            df.attrs["meta"] = meta
            self._warn(meta)
            return df
        res = self._json("POST", path, body)
        rows, names = flatten(res)
        meta = res.get("meta") or {}
        self._warn(meta)
        if self.as_frame:
            import pandas as pd
            df = pd.DataFrame(rows, columns=names)
            df.attrs["meta"] = meta
            return df
        return Rows(rows, meta, names)

    @staticmethod
    def _warn(meta):
        for w in meta.get("warnings") or []:
            warnings.warn("statgate: " + w, stacklevel=4)

    # ----------------------------------------------------------- the API

    def datasets(self, q=None):
        """The data map: a list of dataset descriptions (name, title,
        description, size, columns, ...); q filters by words."""
        path = "/v1/datasets"
        if q:
            path += "?" + urllib.parse.urlencode({"q": q})
        return self._json("GET", path)["datasets"]

    def dataset(self, name):
        """One dataset's description."""
        return self._json("GET", "/v1/datasets/" + urllib.parse.quote(name, safe=""))

    def templates(self):
        """The approved templates this token may run."""
        return self._json("GET", "/v1/templates")["templates"]

    def query(self, sql, project, epsilon=None, totals=False, bounds=None, arrow=False):
        """One protected ad-hoc SQL query; debits the project's budget."""
        body = {"project": project, "sql": sql}
        if epsilon is not None:
            body["epsilon"] = epsilon
        if totals:
            body["totals"] = True
        if bounds:
            body["bounds"] = bounds
        return self._result("/v1/query", body, arrow)

    def template(self, name, project, params=None, bounds=None, arrow=False):
        """Run an approved template with its parameters (its ε is fixed)."""
        body = {"project": project, "params": params or {}}
        if bounds:
            body["bounds"] = bounds
        return self._result("/v1/templates/" + urllib.parse.quote(name, safe="") + "/run", body, arrow)

    def cohort(self, project, include, exclude=None, breakdown=None, epsilon=None, bounds=None, arrow=False):
        """Estimate a cohort's size across registries. include and exclude
        are lists of {"dataset", "where", "from", "to"} criteria."""
        body = {"project": project, "include": list(include)}
        if exclude:
            body["exclude"] = list(exclude)
        if breakdown:
            body["breakdown"] = list(breakdown)
        if epsilon is not None:
            body["epsilon"] = epsilon
        if bounds:
            body["bounds"] = bounds
        return self._result("/v1/cohorts/estimate", body, arrow)

    def budget(self, project):
        """The project's budget per dataset: ε and δ total, spent, remaining."""
        return self._json("GET", "/v1/projects/" + urllib.parse.quote(project, safe="") + "/budget")["datasets"]


def connect(url, token, **kw):
    """A Client for the server at url with token (see Client)."""
    return Client(url, token, **kw)
