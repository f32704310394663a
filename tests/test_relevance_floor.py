"""The relevance floor: a query about nothing in the library returns nothing, in every mode and
on every face (Library, CLI, web page, HF API), with the static vectors and with MiniLM's; an
off-topic question gets at most a few results, an on-topic one still a full page; an arXiv id
that is not in the library says so and how to fetch it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import webdata
from fastapi.testclient import TestClient
from huggingface_hub import HfApi
from huggingface_hub import constants as hf_constants
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.library import Library
from paperfeed.records import Paper
from paperfeed.relevance import MIN_SUPPORT, STRONGEST, QueryWords, paper_tokens
from paperfeed.search import FALLBACK, SETTINGS, query_terms, settings_for
from paperfeed.store.tokens import tokens
from paperfeed.web.app import create_app

MODES = ["keyword", "semantic", "hybrid"]
GIBBERISH = ["xyzzyplugh", "qwrtzp vbnmkl", "blorfenwick zantiquor"]
OFF_TOPIC = [
    "cheap flights to tokyo in march",
    "knitting patterns for beginners",
    "symptoms of the flu in children",
    "how long should I boil an egg",
]
ON_TOPIC = ["robust training of neural networks", "quantization of large language models"]
ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def count(lib: Library, query: str, mode: str) -> int:
    return len(lib.search(query, mode=mode, limit=10))  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_gibberish_finds_nothing_off_topic_little_on_topic_a_page(sample_lib: Library, mode: str) -> None:
    assert sample_lib.semantic is not None and sample_lib.semantic.encoder_name == "minilm-static"
    for query in GIBBERISH:
        assert sample_lib.search(query, mode=mode) == []  # type: ignore[arg-type]
    for query in OFF_TOPIC:
        assert count(sample_lib, query, mode) <= 3, query
    for query in ON_TOPIC:
        assert count(sample_lib, query, mode) == 10, query


def test_with_minilm_vectors_too(sample_lib: Library) -> None:
    sample_lib.index("minilm")
    assert sample_lib.semantic is not None and sample_lib.semantic.encoder_name == "minilm"
    for mode in MODES:
        for query in GIBBERISH:
            assert sample_lib.search(query, mode=mode) == []  # type: ignore[arg-type]
        for query in OFF_TOPIC:
            assert count(sample_lib, query, mode) <= 3, (query, mode)
        for query in ON_TOPIC:
            assert count(sample_lib, query, mode) == 10, (query, mode)
    # Below the floor but holding the query's words: kept (a rare word, one paper).
    hits = sample_lib.search("hands", mode="semantic")
    assert any("Hand Contact" in h.paper.title for h in hits)


def test_one_uncommon_word_does_not_fill_a_keyword_page(sample_lib: Library) -> None:
    """An off-topic question whose only match is one uncommon word in one abstract: the any-word
    fill no longer pads the page with it; the same word as most of a query still finds it."""
    sample_lib.store.upsert([Paper(
        id="2501.00077", title="Curriculum schedules for small language models",
        abstract="We give a simple recipe for ordering training data by difficulty.",
    )])
    sample_lib.index()
    for mode in MODES:
        found = [h.paper.id for h in sample_lib.search("easy sourdough bread recipe", mode=mode)]
        assert "2501.00077" not in found and len(found) <= 3, mode
    assert sample_lib.search("recipe", mode="keyword")[0].paper.id == "2501.00077"
    assert "2501.00077" in [h.paper.id for h in sample_lib.search("training recipe", mode="keyword")]


def test_query_words_weigh_by_rarity() -> None:
    paper = Paper(id="t-1", title="Brake wear of cars", abstract="We fix nothing.")
    terms = query_terms("how do I fix my car's brakes")
    assert terms == ["fix", "car", "s", "brakes"]
    even = QueryWords(terms, None)  # no statistics: every word weighs the same
    assert even.support(paper) == pytest.approx(0.75)  # fix, car (cars), brake (brakes)
    common_fix = QueryWords(terms, {"fix": 0.3, "car": 0.0001, "s": 0.9, "brakes": 0.0001})
    only_fix = Paper(id="t-2", title="A fix", abstract="")
    assert common_fix.support(only_fix) < MIN_SUPPORT <= common_fix.support(paper)
    assert QueryWords([], None).support(paper) == 0.0
    everywhere = QueryWords(["model"], {"model": 1.0})  # a word in every paper still counts
    assert everywhere.matches(Paper(id="t-3", title="A model", abstract=""))


def test_a_long_query_matches_the_paper_holding_its_rare_words() -> None:
    """A pasted sentence: its source paper holds two of its rare words but far from 40 % of
    its weight; a paper holding only one rare word (or only common ones) still does not match."""
    terms = query_terms("we propose a sparse mixture of routed experts that halves the inference "
                        "cost of large multilingual translation systems across many languages")
    rare = {"sparse", "routed", "experts", "halves", "multilingual", "translation", "systems",
            "languages", "inference"}
    fractions = {t: (0.0001 if t in rare else 0.3) for t in terms}
    words = QueryWords(terms, fractions)
    assert len(terms) >= 12 and STRONGEST == 2
    source = Paper(id="t-4", title="Routed experts", abstract="The model we train uses few routes.")
    assert words.support(source) < MIN_SUPPORT and words.matches(source)
    one_rare = Paper(id="t-5", title="Sparse", abstract="We propose a large cost model.")
    assert one_rare.abstract and not words.matches(one_rare)  # one rare word plus common ones
    short = QueryWords(query_terms("sparse routed experts"), {"sparse": 1e-4, "routed": 1e-4,
                                                              "experts": 1e-4})
    assert short.needed == pytest.approx(MIN_SUPPORT * short.total)  # short queries: as before
    five = QueryWords(query_terms("alpha beta gamma delta epsilon"),
                      {"alpha": 1e-4, "beta": 1e-4, "gamma": 1e-4, "delta": 1e-4, "epsilon": 1e-4})
    assert five.needed == pytest.approx(MIN_SUPPORT * five.total)


def test_paper_tokens_follow_an_edit() -> None:
    before = Paper(id="t-6", title="Diffusion priors", abstract="Denoising images.")
    assert paper_tokens(before) == frozenset(tokens("Diffusion priors Denoising images."))
    assert paper_tokens(before) is paper_tokens(before)  # cached
    after = Paper(id="t-6", title="Diffusion priors", abstract="Denoising audio.")
    assert paper_tokens(after) != paper_tokens(before)


def test_settings_are_per_encoder_with_a_fallback() -> None:
    assert settings_for("minilm-int8") == settings_for("minilm") == SETTINGS["minilm"]
    assert settings_for("some-new-encoder") == FALLBACK
    assert SETTINGS["minilm"].floor < SETTINGS["minilm-static"].floor  # different cosine scales


def test_the_static_floor_is_what_the_calibration_prints() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/calibrate_floor.py"), "--queries", "200",
         "--encoders", "minilm-static"],
        capture_output=True, text=True, check=True,
    )
    line = next(x for x in result.stdout.splitlines() if x.strip().startswith("floor "))
    assert abs(float(line.split()[1].rstrip(":")) - SETTINGS["minilm-static"].floor) <= 0.03, line


def test_an_arxiv_id_not_in_the_library(sample_lib: Library) -> None:
    sample_lib.store.upsert([Paper(id="2501.00088", title="A paper we have", abstract="Words.")])
    assert sample_lib.missing_arxiv_id("arXiv:2501.99999v2") == "2501.99999"
    assert sample_lib.missing_arxiv_id("https://arxiv.org/abs/2501.00088") is None
    assert sample_lib.missing_arxiv_id("quantization") is None
    for mode in MODES:
        assert sample_lib.search("2501.99999", mode=mode) == []  # type: ignore[arg-type]
        assert sample_lib.search("2501.00088", mode=mode)[0].paper.id == "2501.00088"  # type: ignore[arg-type]


def test_cli_says_when_nothing_matches(home: Path) -> None:
    def cli(*args: str):
        return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)

    assert cli("import", "--sample").exit_code == 0
    for mode in MODES:
        result = cli("search", "xyzzyplugh", "--mode", mode)
        assert result.exit_code == 0 and result.stdout == ""
        assert "No papers match 'xyzzyplugh'" in result.stderr
        result = cli("search", "qwrtzp vbnmkl", "--mode", mode, "--json")
        assert result.exit_code == 0 and json.loads(result.stdout) == []
    result = cli("search", "xyzzy\x1b[31mplugh\x07")  # control characters stay out of the terminal
    assert result.exit_code == 0 and "\x1b" not in result.stderr and "\x07" not in result.stderr
    result = cli("search", "arXiv:2501.99999")
    assert result.exit_code == 0 and result.stdout == ""
    assert "not in the library" in result.stderr
    assert "paperfeed harvest arxiv-api --id 2501.99999" in result.stderr
    result = cli("search", "2501.99999", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert "paperfeed harvest arxiv-api --id 2501.99999" in result.stderr
    result = cli("search", "quantization of large language models", "--json")
    assert len(json.loads(result.stdout)) == 10 and "No papers match" not in result.stderr


@pytest.fixture
def client(sample_lib: Library) -> Iterator[TestClient]:
    with TestClient(create_app(library=sample_lib), follow_redirects=False) as c:
        yield c


def test_web_page_and_api_say_when_nothing_matches(client: TestClient) -> None:
    for mode in ["", *MODES]:
        page = client.get("/search", params={"q": "xyzzyplugh", "mode": mode})
        assert page.status_code == 200 and "No papers match" in page.text
        assert 'class="paper' not in page.text.split("No papers match")[1]
    full = client.get("/search", params={"q": "quantization of large language models"})
    assert "No papers match" not in full.text and "Results 1" in full.text
    page = client.get("/search", params={"q": "arXiv:2501.99999"})
    assert page.status_code == 200 and 'id="not-in-library"' in page.text
    assert "paperfeed harvest arxiv-api --id 2501.99999" in page.text
    assert client.get("/search", params={"q": "quantization"}).text.count("not-in-library") == 0
    for query in GIBBERISH:
        response = client.get("/api/papers/search", params={"q": query})
        assert response.status_code == 200 and response.json() == []


def test_the_huggingface_client_gets_an_empty_list(sample_lib: Library) -> None:
    with webdata.serving(sample_lib) as url, pytest.MonkeyPatch.context() as mp:
        mp.setattr(hf_constants, "HF_HUB_OFFLINE", False)  # (see test_hf_client.py)
        api = HfApi(endpoint=url, token=False)
        assert list(api.list_papers(query="xyzzyplugh")) == []
        assert len(list(api.list_papers(query="quantization of large language models"))) > 3
