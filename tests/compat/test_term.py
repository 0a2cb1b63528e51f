"""termlog / termwarn / termerror: stderr, a `runlake:` prefix, control characters escaped."""

from __future__ import annotations

import runlake


def test_each_line_gets_the_prefix_and_the_level(capsys):
    runlake.termlog("two\nlines")
    runlake.termwarn("careful")
    runlake.termerror("broken")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("runlake: two\nrunlake: lines\nrunlake: WARNING careful\n"
                            "runlake: ERROR broken\n")


def test_control_characters_are_escaped(capsys):
    runlake.termlog("a\x1b[2Jb\rc\x00d\x9b")
    assert capsys.readouterr().err == "runlake: a\\x1b[2Jb\\x0dc\\x00d\\x9b\n"


def test_repeat_false_prints_a_message_once(capsys):
    for _ in range(3):
        runlake.termwarn("only once, this one", repeat=False)
    runlake.termwarn("only once, this one")  # repeat=True always prints
    assert capsys.readouterr().err.count("only once, this one") == 2


def test_no_prefix_and_no_newline(capsys):
    runlake.termlog("plain", prefix=False, newline=False)
    assert capsys.readouterr().err == "plain"
