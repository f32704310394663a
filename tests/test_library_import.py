"""Importing a reference manager's BibTeX into a collection (both backends): entries matched by
arXiv id (eprint, url, note, number, arXiv DOI), DOI and title; the rest added as papers; broken,
title-less and duplicate entries reported with their place; empty and oversized files refused
with nothing written."""

from __future__ import annotations

from pathlib import Path

import bibtexparser
import pytest
import webdata

from paperfeed.errors import InvalidInput
from paperfeed.library import Library
from paperfeed.personal import importing

ZOTERO = r"""@article{byeprint,
  title = {Not the Stored Title},
  eprint = {2502.00001},
  archivePrefix = {arXiv},
}

@misc{byurl,
  title = {Another Title},
  url = {https://arxiv.org/abs/2502.00002v2},
}

@article{bynote,
  title = {Speculative decoding, the preprint},
  note = {arXiv:2502.00004 [cs]},
  publisher = {arXiv},
}

@article{bynumber,
  title = {Draft trees (preprint)},
  number = {arXiv:2502.00005},
}

@article{byarxivdoi,
  title = {RAG},
  doi = {10.48550/arXiv.2502.00006},
}

@article{bydoi,
  title = {Totally Different Words},
  doi = {10.1234/EXAMPLE.5678},
}

@inproceedings{bytitle,
  title = {Graph Neural Networks for {Molecules}},
  author = {Dijkstra, Edsger},
}

@article{broken,
  title = {Never closed,

@article{notitle, author = {Doe, Jane}}

@article{brandnew,
  title = {A Brand New Paper on {GPU} Kernels},
  author = {Doe, Jane and Roe, Richard},
}

@article{unknownarxiv,
  title = {A Preprint paperfeed Has Not Seen},
  note = {arXiv:2409.12345 [cs.LG]},
}

@article{byeprint-again,
  title = {Same Paper Again},
  eprint = {2502.00001},
  archivePrefix = {arXiv},
}
"""


@pytest.fixture
def web_lib(any_lib: Library, tmp_path: Path) -> Library:
    return webdata.build(any_lib, tmp_path / "data")


def write(tmp_path: Path, text: str | bytes, name: str = "zotero.bib") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_entries_are_matched_added_or_rejected_with_their_place(web_lib: Library, tmp_path: Path) -> None:
    lib = web_lib
    before = lib.store.count()
    report = lib.library_import(write(tmp_path, ZOTERO), "Zotero")
    statuses = ("matched", "added", "duplicate", "rejected")
    by_status = {s: [e for e in report.entries if e.status == s] for s in statuses}
    assert {(e.paper_id, e.matched_by) for e in by_status["matched"]} == {
        ("2502.00001", "arxiv"), ("2502.00002", "arxiv"), ("2502.00004", "arxiv"),
        ("2502.00005", "arxiv"), ("2502.00006", "arxiv"), ("2501.09999", "doi"), ("2502.00007", "title"),
    }
    assert {e.paper_id for e in by_status["added"]} >= {"2409.12345"}
    assert {e.title for e in by_status["added"]} == {
        "A Brand New Paper on GPU Kernels", "A Preprint paperfeed Has Not Seen"
    }
    reasons = {e.where: e.reason for e in by_status["rejected"]}
    lines = ZOTERO.splitlines()
    broken = lines.index("@article{broken,") + 1
    notitle = lines.index("@article{notitle, author = {Doe, Jane}}") + 1
    assert reasons[f"line {broken}"].startswith("BibTeX syntax error")
    assert reasons[f"line {notitle}"] == "record has no title"
    [dup] = by_status["duplicate"]
    assert dup.paper_id == "2502.00001" and "entry 1" in (dup.reason or "")
    assert report.summary() == {"matched": 7, "added": 2, "duplicates": 1, "rejected": 2}
    assert lib.store.count() == before + 2
    saved = {s.paper.id for s in lib.library_list("Zotero")}
    assert saved == {e.paper_id for e in by_status["matched"] + by_status["added"]}
    new = lib.get("2409.12345")
    assert new is not None and new.title == "A Preprint paperfeed Has Not Seen"


def test_importing_again_duplicates_nothing(web_lib: Library, tmp_path: Path) -> None:
    path = write(tmp_path, ZOTERO)
    web_lib.library_import(path, "Zotero")
    count = web_lib.store.count()
    again = web_lib.library_import(path, "Zotero")
    assert again.summary()["added"] == 0 and again.summary()["matched"] == 9
    assert web_lib.store.count() == count
    assert web_lib.collections()[0].size == 9


def test_an_empty_file_is_refused_and_writes_nothing(web_lib: Library, tmp_path: Path) -> None:
    for text in ("", "   \n\n"):
        with pytest.raises(InvalidInput, match="empty"):
            web_lib.library_import(write(tmp_path, text), "Zotero")
    with pytest.raises(InvalidInput):
        web_lib.library_import(write(tmp_path, "just some words, no entries\n", "notes.txt"), "Zotero")
    with pytest.raises(InvalidInput):
        web_lib.library_import(tmp_path / "missing.bib", "Zotero")
    assert web_lib.collections() == []


def test_only_rejected_entries_leave_no_collection(web_lib: Library, tmp_path: Path) -> None:
    report = web_lib.library_import(write(tmp_path, "@article{a, author = {Doe, Jane}}\n"), "Zotero")
    assert report.summary()["rejected"] == 1 and report.rejected[0].where == "line 1"
    assert web_lib.collections() == []


def test_a_20_mb_file_with_one_oversized_entry_imports_the_rest(web_lib: Library, tmp_path: Path) -> None:
    huge = "@article{huge, title = {Huge}, abstract = {" + "x" * (20 * 2**20) + "}}\n"
    text = (
        "@article{one, title = {First Small Paper}}\n" + huge + "@article{two, title = {Second Small Paper}}\n"
    )
    path = write(tmp_path, text)
    assert path.stat().st_size > 20 * 2**20
    report = web_lib.library_import(path, "Big")
    assert report.summary() == {"matched": 0, "added": 2, "duplicates": 0, "rejected": 1}
    assert report.rejected[0].where == "line 2" and "abstract is" in (report.rejected[0].reason or "")
    assert {s.paper.title for s in web_lib.library_list("Big")} == {"First Small Paper", "Second Small Paper"}


def test_a_file_over_the_limit_is_refused_before_reading(
    web_lib: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "MAX_IMPORT_BYTES", 1024)
    path = write(tmp_path, "@article{a, title = {A}}\n" * 100)
    with pytest.raises(InvalidInput, match="larger than"):
        web_lib.library_import(path, "Zotero")
    assert web_lib.collections() == [] and web_lib.get("t-" + "0" * 16) is None


def test_a_bad_collection_name_is_refused_before_anything_is_imported(
    web_lib: Library, tmp_path: Path
) -> None:
    count = web_lib.store.count()
    with pytest.raises(InvalidInput):
        web_lib.library_import(write(tmp_path, ZOTERO), "bad\nname")
    assert web_lib.store.count() == count and web_lib.collections() == []


def test_export_of_the_imported_collection_reads_back(web_lib: Library, tmp_path: Path) -> None:
    web_lib.library_import(write(tmp_path, ZOTERO), "Zotero")
    text = web_lib.library_export("bibtex", collection="Zotero")
    parsed = bibtexparser.parse_string(text)
    assert not parsed.failed_blocks
    titles = {e.fields_dict["title"].value for e in parsed.entries}
    assert "Speculative Decoding for Large Language Models" in titles and len(titles) == 9
    one = bibtexparser.parse_string(web_lib.library_export("bibtex", paper_id="2502.00003"))
    assert len(one.entries) == 1 and not one.failed_blocks  # the hostile title stays inert
