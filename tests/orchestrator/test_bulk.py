"""The collector pause around bulk reads and table builds always ends, and nests."""

from __future__ import annotations

import gc

import pytest

from orchestrator.util.bulk import paused_gc


def test_paused_inside_enabled_after_even_on_error_and_nested_leaves_it_to_the_outermost():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one does not turn it back on
    assert gc.isenabled()
    with pytest.raises(ValueError):
        with paused_gc():
            raise ValueError("a read that fails")
    assert gc.isenabled()


def test_left_off_by_the_caller_stays_off():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
