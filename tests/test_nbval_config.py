"""The nbval sanitize file: every section parses and does what its name says.

nbval silently ignores a rule whose `replace:` is empty or that follows a blank line, so
each section is checked here against an example it must rewrite."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

CFG = Path(__file__).with_name("nbval_sanitize.cfg")
EXAMPLES = {
    "memory_address": ("<keras.src.callbacks.history.History at 0x7f3a2b1c4d90>",
                       "<keras.src.callbacks.history.History at 0xADDRESS>"),
    "keras_step_timing": ("4/4 - 0s - 12ms/step - loss: 0.31", "4/4 - 0s - TIME/step - loss: 0.31"),
    "keras_epoch_seconds": ("Epoch 1/3 - 2s - loss: 0.5", "Epoch 1/3 - TIME - loss: 0.5"),
}


def _sections():
    parser = configparser.ConfigParser()
    parser.read(CFG)
    return parser


def test_every_section_has_a_regex_and_a_non_empty_replacement():
    parser = _sections()
    assert set(parser.sections()) == set(EXAMPLES), "add an example here for every new rule"
    for name in parser.sections():
        assert parser[name].get("regex"), name
        assert parser[name].get("replace"), f"{name}: empty replace is silently ignored by nbval"
        re.compile(parser[name]["regex"])


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_rule_rewrites_its_example(name):
    section = _sections()[name]
    before, after = EXAMPLES[name]
    assert re.sub(section["regex"], section["replace"], before) == after


def test_nbval_parses_the_file_like_we_do():
    """nbval's own reader finds the same number of rules."""
    from nbval.plugin import get_sanitize_patterns

    assert len(get_sanitize_patterns(CFG.read_text())) == len(EXAMPLES)
