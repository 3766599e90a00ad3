"""A tokenizer that cannot read the task's text stops a run before anything is written."""

from __future__ import annotations

import pytest

from layerdrop.errors import ModelError
from layerdrop.models.loading import check_tokenizer
from tests.helpers import WORDS, bert_tokenizer


def test_a_vocabulary_of_special_tokens_alone_is_refused(tmp_path):
    from transformers import BertTokenizerFast

    empty = BertTokenizerFast(vocab={t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])})
    with pytest.raises(ModelError, match="has no vocabulary"):
        check_tokenizer(empty, "m")


def test_text_it_reads_as_unknown_is_refused_and_text_it_knows_passes(tmp_path):
    tokenizer = bert_tokenizer(tmp_path)
    check_tokenizer(tokenizer, "m", [" ".join(WORDS[:6]), " ".join(WORDS[6:12])])
    with pytest.raises(ModelError, match=r"reads 100% of the task's tokens as \[UNK\]"):
        check_tokenizer(tokenizer, "m", ["zqxj vvkw", "plmoq"])
