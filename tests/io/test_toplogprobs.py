"""Top-k log-probabilities as language-model APIs write them (xent_cli.io.toplogprobs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xent_cli.errors import InputError
from xent_cli.io.sources import resolve
from xent_cli.io.toplogprobs import (
    NOT_LISTED_BELOW,
    TopLogprobBlock,
    api_shape,
    dropped_note,
    read_top_logprobs,
)


def _item(token: str, logprob: float, top: dict[str, float]) -> dict[str, object]:
    return {
        "token": token,
        "logprob": logprob,
        "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top.items()],
    }


ITEMS = [
    _item("a", -0.1, {"a": -0.1, "b": -2.5}),
    _item("c", -1.5, {"b": -0.4, "c": -1.5, "d": -3.0}),
]


def _read(path: Path, block_rows: int = 4096) -> list[TopLogprobBlock]:
    return list(read_top_logprobs(resolve(str(path), stdin_is_terminal=True), block_rows=block_rows))


def _rows(blocks: list[TopLogprobBlock]) -> list[tuple[list[str], list[float], str | None]]:
    return [
        (tokens, logprobs, actual)
        for block in blocks
        for tokens, logprobs, actual in zip(block.tokens, block.logprobs, block.actual, strict=True)
    ]


EXPECTED = [(["a", "b"], [-0.1, -2.5], "a"), (["b", "c", "d"], [-0.4, -1.5, -3.0], "c")]


def test_json_lines_of_content_items_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in ITEMS) + "\n")
    blocks = _read(path, block_rows=1)
    assert [b.start for b in blocks] == [0, 1]
    assert _rows(blocks) == EXPECTED
    assert [place for b in blocks for place in b.places] == ["row 1 (line 1)", "row 2 (line 2)"]
    assert [lp for b in blocks for lp in b.actual_logprob] == [-0.1, -1.5]


def test_a_chat_completions_response_and_a_list_of_items(tmp_path: Path) -> None:
    response = {"choices": [{"logprobs": {"content": ITEMS}}]}
    (tmp_path / "r.json").write_text(json.dumps(response))
    (tmp_path / "l.json").write_text(json.dumps(ITEMS))
    assert _rows(_read(tmp_path / "r.json")) == EXPECTED
    assert _rows(_read(tmp_path / "l.json")) == EXPECTED


def test_flat_objects_have_no_actual_token(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text('{"a": -0.1, "b": -2.5}\n')
    assert _rows(_read(path)) == [(["a", "b"], [-0.1, -2.5], None)]


def test_placeholders_below_the_floor_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(_item("a", -0.1, {"a": -0.1, "b": -9999.0})) + "\n")
    [block] = _read(path)
    assert (block.tokens, block.logprobs, block.dropped) == ([["a"]], [[-0.1]], 1)
    note = dropped_note({"p.jsonl": 1, "q.jsonl": 0})
    assert note is not None and note.endswith(": 1 in p.jsonl")
    assert f"below {NOT_LISTED_BELOW:g}" in note
    assert dropped_note({"p.jsonl": 0}) is None


def test_api_shape_names_what_a_table_reader_found() -> None:
    assert api_shape({"choices": [{"logprobs": {}}]}) == "an API response with log-probabilities"
    assert api_shape([ITEMS[0]]) == "a token position with top_logprobs"
    assert api_shape([[0.5, 0.5]]) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"token": "a", "logprob": -0.1}\n', "p.jsonl: row 1 (line 1): has no 'top_logprobs'"),
        ('{"token": "a", "top_logprobs": []}\n', "row 1 (line 1): 'top_logprobs' is empty"),
        ("\n\n", "p.jsonl: holds no token positions"),
    ],
)
def test_bad_positions_are_one_error_naming_the_row(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        _read(path)
    assert message in str(info.value)


def test_an_inline_list_is_refused() -> None:
    with pytest.raises(InputError, match="top-logprobs come from a JSON or JSON Lines file"):
        _read(Path("0.5,0.5"))
