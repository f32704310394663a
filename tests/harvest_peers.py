"""Local servers that behave like the real sources, for the harvest tests (loopback only).

- OAI-PMH: the server side of `pyoai` (a real OAI-PMH implementation: resumption tokens, error
  responses, `noRecordsMatch`, datestamp ranges, sets), serving records in the `arXiv` metadata
  format through a writer registered with it.
- The arXiv API: Atom feeds with `start`/`max_results`/`id_list`, and the API's error feed (HTTP
  400) for a bad query.
- Hugging Face: `/api/daily_papers?date=&limit=&p=` JSON.

One threaded HTTP/1.1 server (keep-alive, gzip when asked) serves all three and records every
request (time of arrival, path, parameters, headers, client port). Faults are injected per
request: `peer.inject(fault, when=...)`.
"""

from __future__ import annotations

import gzip
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, parse_qsl, urlsplit
from xml.sax.saxutils import escape

import orjson
from lxml.etree import SubElement

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pyoai imports cgi and pkg_resources (deprecated)
    from oaipmh import common, error
    from oaipmh import server as oai_server
    from oaipmh.metadata import MetadataRegistry
    from oaipmh.server import BatchingServer

# pyoai 2.5.0 (the newest on PyPI) decodes resumption tokens with `cgi.parse_qs`, which Python
# removed in 3.8; its replacement has the same signature. Without this every token is a 500.
oai_server.cgi = SimpleNamespace(parse_qs=parse_qs)

ARXIV_NS = "http://arxiv.org/OAI/arXiv/"


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (slow responses, timeouts)


@dataclass
class Request:
    at: float  # time.monotonic() on arrival
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    client_port: int
    number: int  # 1-based count of requests to this path


Fault = Callable[[Request, Callable[[], Response]], Response]


# -- OAI-PMH: a pyoai repository of arXiv records --------------------------------------------------

@dataclass
class OaiRecord:
    id: str
    datestamp: datetime
    title: str = ""
    abstract: str = "An abstract."
    created: str = "2024-01-02"
    sets: tuple[str, ...] = ("cs",)
    deleted: bool = False
    authors: tuple[tuple[str, str], ...] = (("Lovelace", "Ada"),)
    categories: str = "cs.LG"


def arxiv_record(n: int, day: str = "2024-01-02", **kw) -> OaiRecord:
    return OaiRecord(
        id=f"2401.{n:05d}",
        datestamp=datetime.fromisoformat(day),
        title=kw.pop("title", f"Paper number {n} on sparse attention"),
        abstract=kw.pop("abstract", f"We study problem {n} and solve it."),
        **kw,
    )


def _arxiv_writer(element, metadata) -> None:
    """Writes the `arXiv` metadata format (as arXiv's OAI-PMH serves it) into <metadata>."""
    m = metadata.getMap()
    root = SubElement(element, f"{{{ARXIV_NS}}}arXiv", nsmap={None: ARXIV_NS})
    for name in ("id", "created", "title"):
        SubElement(root, f"{{{ARXIV_NS}}}{name}").text = m[name]
    authors = SubElement(root, f"{{{ARXIV_NS}}}authors")
    for keyname, forenames in m["authors"]:
        author = SubElement(authors, f"{{{ARXIV_NS}}}author")
        SubElement(author, f"{{{ARXIV_NS}}}keyname").text = keyname
        SubElement(author, f"{{{ARXIV_NS}}}forenames").text = forenames
    SubElement(root, f"{{{ARXIV_NS}}}categories").text = m["categories"]
    SubElement(root, f"{{{ARXIV_NS}}}abstract").text = m["abstract"]


class ArxivRepository:
    """pyoai's IBatchingOAI interface over a list of records."""

    def __init__(self, records: list[OaiRecord]) -> None:
        self.records = records

    def identify(self):
        return common.Identify(
            repositoryName="arXiv (test peer)", baseURL="http://127.0.0.1/oai",
            protocolVersion="2.0", adminEmails=["help@example.org"],
            earliestDatestamp=datetime(2007, 5, 23), deletedRecord="persistent",
            granularity="YYYY-MM-DD", compression=["gzip"], toolkit_description=False,
        )

    def listMetadataFormats(self, identifier=None):  # noqa: N802 - pyoai's interface
        return [("arXiv", "http://arxiv.org/OAI/arXiv.xsd", ARXIV_NS)]

    def listSets(self, cursor=0, batch_size=10):  # noqa: N802
        return [("cs", "Computer Science", None), ("math", "Mathematics", None)][cursor:cursor + batch_size]

    def _matching(self, set=None, from_=None, until=None):  # noqa: A002
        return [
            r for r in self.records
            if (set is None or set in r.sets)
            and (from_ is None or r.datestamp >= from_)
            and (until is None or r.datestamp <= until)
        ]

    def _triple(self, r: OaiRecord):
        header = common.Header(None, f"oai:arXiv.org:{r.id}", r.datestamp, list(r.sets), r.deleted)
        if r.deleted:
            return header, None, None
        fields = {"id": r.id, "created": r.created, "title": r.title, "abstract": r.abstract,
                  "authors": r.authors, "categories": r.categories}
        return header, common.Metadata(None, fields), None

    def listRecords(self, metadataPrefix=None, set=None, from_=None, until=None,  # noqa: N802, N803, A002
                    cursor=0, batch_size=10):
        if metadataPrefix != "arXiv":
            raise error.CannotDisseminateFormatError(f"unknown format {metadataPrefix}")
        matching = self._matching(set, from_, until)
        return [self._triple(r) for r in matching[cursor:cursor + batch_size]]

    def listIdentifiers(self, metadataPrefix=None, set=None, from_=None, until=None,  # noqa: N802, N803, A002
                        cursor=0, batch_size=10):
        return [self._triple(r)[0] for r in self._matching(set, from_, until)[cursor:cursor + batch_size]]

    def getRecord(self, metadataPrefix, identifier):  # noqa: N802, N803
        for r in self.records:
            if f"oai:arXiv.org:{r.id}" == identifier:
                return self._triple(r)
        raise error.IdDoesNotExistError(identifier)


class OaiPeer:
    def __init__(self, records: list[OaiRecord], page_size: int) -> None:
        registry = MetadataRegistry()
        registry.registerWriter("arXiv", _arxiv_writer)
        self.repository = ArxivRepository(records)
        self.server = BatchingServer(self.repository, registry, resumption_batch_size=page_size)
        self.generation = 0  # tokens carry the generation they were issued in
        self._lock = threading.Lock()

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as when a real server's tokens time out)."""
        with self._lock:
            self.generation += 1

    def respond(self, params: dict[str, str]) -> Response:
        params = dict(params)
        if "resumptionToken" in params:
            generation, _, token = params["resumptionToken"].partition(".")
            fresh = generation == f"g{self.generation}"
            params["resumptionToken"] = token if fresh else "expired"  # pyoai: badResumptionToken
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            body = self.server.handleRequest(params)
        tagged = f"<resumptionToken>g{self.generation}.".encode()
        return Response(200, body.replace(b"<resumptionToken>", tagged),
                        {"Content-Type": "text/xml; charset=utf-8"})


# -- the arXiv API ---------------------------------------------------------------------------------

def atom_entry(
    arxiv_id: str, title: str, category: str = "cs.LG", published: str = "2024-01-02",
    comment: str | None = None,
) -> bytes:
    note = f"<arxiv:comment>{escape(comment)}</arxiv:comment>" if comment else ""
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id><published>{published}T10:00:00Z</published>"
        f"<updated>{published}T10:00:00Z</updated><title>{escape(title)}</title>"
        f"<summary>About {escape(title)}.</summary><author><name>Grace Hopper</name></author>{note}"
        f'<arxiv:primary_category term="{category}"/><category term="{category}"/></entry>'
    ).encode()


class ApiPeer:
    def __init__(self, entries: dict[str, tuple[str, ...]]) -> None:
        self.entries = entries  # id -> (title, category[, published day[, arXiv comment]])

    def respond(self, params: dict[str, str]) -> Response:
        query = params.get("search_query", "")
        if "BAD(" in query:
            return Response(400, self._feed([b"<entry><id>http://arxiv.org/api/errors#incorrect_query</id>"
                                             b"<title>Error</title><summary>incorrectly formatted query"
                                             b"</summary></entry>"], 1))
        if params.get("id_list"):
            ids = [i for i in params["id_list"].split(",") if i in self.entries]
        else:
            category = query.removeprefix("cat:")
            ids = sorted(i for i, (_, c, *_rest) in self.entries.items() if c == category)
        start, size = int(params.get("start", 0)), int(params.get("max_results", 10))
        chosen = ids[start:start + size]
        return Response(200, self._feed([atom_entry(i, *self.entries[i]) for i in chosen], len(ids)),
                        {"Content-Type": "application/atom+xml"})

    @staticmethod
    def _feed(entries: list[bytes], total: int) -> bytes:
        return (
            b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            b'xmlns:arxiv="http://arxiv.org/schemas/atom" '
            b'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><title>arXiv Query</title>'
            + f"<opensearch:totalResults>{total}</opensearch:totalResults>".encode()
            + b"".join(entries) + b"</feed>"
        )


# -- Hugging Face daily papers ---------------------------------------------------------------------

def hf_item(arxiv_id: str, title: str, day: str, upvotes: int, org: str | None = None) -> dict:
    item = {
        "paper": {"id": arxiv_id, "title": title, "summary": f"About {title}.", "upvotes": upvotes,
                  "authors": [{"_id": "a1", "name": "Alan Turing", "hidden": False}],
                  "publishedAt": f"{day}T08:00:00.000Z", "githubStars": upvotes * 2},
        "publishedAt": f"{day}T12:00:00.000Z", "title": title, "numComments": 3,
    }
    if org:
        item["organization"] = {"name": org, "fullname": org.upper()}
    return item


class HfPeer:
    def __init__(self, days: dict[str, list[dict]]) -> None:
        self.days = days

    def respond(self, params: dict[str, str]) -> Response:
        day = params.get("date", "")
        try:
            datetime.strptime(day, "%Y-%m-%d")
        except ValueError:
            return Response(400, b'{"error":"Invalid date"}', {"Content-Type": "application/json"})
        limit, page = int(params.get("limit", 50)), int(params.get("p", 0))
        items = sorted(self.days.get(day, []), key=lambda i: -i["paper"]["upvotes"])
        return Response(200, orjson.dumps(items[page * limit:(page + 1) * limit]),
                        {"Content-Type": "application/json"})


# -- the HTTP server ---------------------------------------------------------------------------------

class Peer:
    """`with Peer(oai=..., api=..., hf=...) as peer:` serves on http://127.0.0.1:<port>."""

    def __init__(self, oai: OaiPeer | None = None, api: ApiPeer | None = None, hf: HfPeer | None = None):
        self.routes = {"/oai": oai, "/api/query": api, "/api/daily_papers": hf}
        self.requests: list[Request] = []
        self._faults: list[tuple[Callable[[Request], bool], Fault, list[int]]] = []
        self._lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                peer._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients killed mid-request
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Peer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def inject(self, fault: Fault, when: Callable[[Request], bool], times: int = 1) -> None:
        """Answer the requests `when` selects with `fault` (at most `times` of them)."""
        self._faults.append((when, fault, [times]))

    def of(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        with self._lock:
            number = sum(1 for r in self.requests if r.path == parts.path) + 1
            request = Request(time.monotonic(), parts.path, dict(parse_qsl(parts.query)),
                              dict(handler.headers.items()), handler.client_address[1], number)
            self.requests.append(request)
            fault = None
            for when, f, left in self._faults:
                if left[0] > 0 and when(request):
                    left[0] -= 1
                    fault = f
                    break
        route = self.routes.get(parts.path)

        def real() -> Response:
            return route.respond(request.params) if route else Response(404, b"not found")

        response = fault(request, real) if fault else real()
        if response.delay:
            time.sleep(response.delay)
        body = response.body
        headers = dict(response.headers)
        if "gzip" in request.headers.get("Accept-Encoding", "") and body:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        try:
            handler.send_response(response.status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


# -- faults ----------------------------------------------------------------------------------------

def status(code: int, retry_after: str | None = None) -> Fault:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return lambda req, real: Response(code, b"<html>busy</html>", headers)


def slow(seconds: float) -> Fault:
    def fault(req: Request, real: Callable[[], Response]) -> Response:
        response = real()
        response.delay = seconds
        return response

    return fault


def truncated(req: Request, real: Callable[[], Response]) -> Response:
    response = real()
    response.body = response.body[: len(response.body) // 2]
    return response


def expire_tokens(oai: OaiPeer) -> Fault:
    def fault(req: Request, real: Callable[[], Response]) -> Response:
        oai.expire_tokens()
        return real()

    return fault
