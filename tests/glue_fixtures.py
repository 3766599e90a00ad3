"""GLUE-format fixture files for all nine tasks, with the original files' quirks.

Tiny hand-written copies of the original formats (see ../shared/data/README.md): CoLA without
header, MRPC with a BOM and a `Quality` column, literal quote characters, MNLI's two dev files and
`gold_label`, a truncated QQP train row, STS-B scores. Shared by the reader tests and the
end-to-end runs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from layerdrop.data.tasks import TASKS

T = "\t"
BOM = "\ufeff"
MNLI_TRAIN_HEAD = T.join(
    "index promptID pairID genre sentence1_binary_parse sentence2_binary_parse sentence1_parse "
    "sentence2_parse sentence1 sentence2 label1 gold_label".split()
)
MNLI_DEV_HEAD = MNLI_TRAIN_HEAD.replace("label1", "label1\tlabel2\tlabel3\tlabel4\tlabel5")
STSB_HEAD = T.join(
    "index genre filename year old_index source1 source2 sentence1 sentence2 score".split()
)
QQP_HEAD = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"


def lines(*rows: str) -> str:
    return "".join(row + "\n" for row in rows)


# Folder -> file -> content, exactly as the original GLUE distribution writes them.
GLUE_FILES: dict[str, dict[str, str]] = {
    "CoLA": {  # No header: source, label, original mark (often empty), sentence.
        "train.tsv": lines(
            "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.",
            "gj04\t0\t*\tThey drank the pub.",
        ),
        "dev.tsv": lines('cl03\t1\t\t"Quoted" sentences keep their quotes.'),
    },
    "SST-2": {  # Sentences keep their trailing space, as on the hub.
        "train.tsv": lines(
            "sentence\tlabel", "hide new secretions from the parental units \t0", "a gem \t1"
        ),
        "dev.tsv": lines("sentence\tlabel", "it 's a charming journey . \t1"),
    },
    "MRPC": {  # UTF-8 BOM, label first in `Quality`, an unbalanced quote opening a sentence.
        "train.tsv": BOM + lines(
            "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String",
            '1\t702876\t702977\tHe called him "the witness".\t"The pie business does not fit.',
            "0\t2108705\t2108831\tYucaipa owned Dominick's.\tYucaipa bought Dominick's.",
        ),
        "dev.tsv": BOM + lines(
            "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", "1\t1\t2\tA cat sat.\tA cat was sitting."
        ),
    },
    "STS-B": {
        "train.tsv": lines(
            STSB_HEAD,
            "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane takes off.\tAn air plane is taking off.\t5.000",
            "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man plays.\tA dog runs.\t0.750",
        ),
        "dev.tsv": lines(
            STSB_HEAD, "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man.\tA person.\t3.8"
        ),
    },
    "QQP": {  # Row 3 is truncated (4 of 6 columns): skipped in train only.
        "train.tsv": lines(
            QQP_HEAD,
            "133273\t213221\t213222\tHow is the life of a math student?\tWhich is the best book?\t0",
            "201841\t303951\t303952\tHow can I stop",
            "402555\t536040\t536041\tHow do I control my anger?\tHow do I stop being angry?\t1",
        ),
        "dev.tsv": lines(QQP_HEAD, "1\t2\t3\tWhy is the sky blue?\tWhat makes the sky blue?\t1"),
    },
    "MNLI": {  # Two dev files; label in the last column `gold_label`, as names.
        "train.tsv": lines(
            MNLI_TRAIN_HEAD,
            "0\t31193\t31193n\tgovernment\t( ( x ) )\t( y )\t(ROOT x)\t(ROOT y)\tConceptually cream skimming has two dimensions.\tProduct and geography are what make cream skimming work.\tneutral\tneutral",
            "1\t101457\t101457e\ttelephone\tp\th\tp\th\tyou know during the season.\tYou lose the things.\tentailment\tentailment",
            "2\t134793\t134793c\tfiction\tp\th\tp\th\tOne of our number will do.\tWe have no one free.\tcontradiction\tcontradiction",
        ),
        "dev_matched.tsv": lines(
            MNLI_DEV_HEAD,
            "0\t63735\t63735n\tslate\tp\th\tp\th\tThe new rights are nice.\tEveryone loves them.\tneutral\tneutral\tneutral\tneutral\tentailment\tneutral",
        ),
        "dev_mismatched.tsv": lines(
            MNLI_DEV_HEAD,
            '0\t75290\t75290c\tletters\tp\th\tp\th\t"Your gift is appreciated.\tHundreds of students.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction',
        ),
    },
    "QNLI": {
        "train.tsv": lines(
            "index\tquestion\tsentence\tlabel",
            "0\tWhat came into force?\tThe law came into force in 1994.\tentailment",
            "1\tWhat is the name?\tThe building is tall.\tnot_entailment",
        ),
        "dev.tsv": lines("index\tquestion\tsentence\tlabel", "0\tWho?\tNobody.\tnot_entailment"),
    },
    "RTE": {  # Row 2 opens with a literal quote, like RTE/train.tsv row 2164.
        "train.tsv": lines(
            "index\tsentence1\tsentence2\tlabel",
            "0\tNo Weapons of Mass Destruction Found in Iraq Yet.\tWeapons Found in Iraq.\tnot_entailment",
            '1\t"That film wasn\'t too successful, but then \'WarGames,\' came out.\tThe film "WarGames" was shot in 1983.\tnot_entailment',
            "2\tA place of sorrow became a place of celebration.\tPope Benedict XVI is the new leader.\tentailment",
        ),
        "dev.tsv": lines("index\tsentence1\tsentence2\tlabel", "0\tDana died.\tDana is dead.\tentailment"),
    },
    "WNLI": {
        "train.tsv": lines(
            "index\tsentence1\tsentence2\tlabel",
            "0\tI stuck a pin through a carrot. It had a hole.\tThe carrot had a hole.\t1",
            "1\tJohn couldn't see the stage with Billy in front of him.\tBilly is so short.\t0",
        ),
        "dev.tsv": lines("index\tsentence1\tsentence2\tlabel", "0\tThe drain is clogged.\tThe hair.\t0"),
    },
}

# Task -> split -> (texts per field, labels in hub ids).
EXPECTED: dict[str, dict[str, tuple[tuple[tuple[str, ...], ...], tuple]]] = {
    "cola": {
        "train": (
            (("Our friends won't buy this analysis, let alone the next one we propose.",
              "They drank the pub."),),
            (1, 0),
        ),
        "validation": ((('"Quoted" sentences keep their quotes.',),), (1,)),
    },
    "sst2": {
        "train": ((("hide new secretions from the parental units ", "a gem "),), (0, 1)),
        "validation": ((("it 's a charming journey . ",),), (1,)),
    },
    "mrpc": {
        "train": (
            (('He called him "the witness".', "Yucaipa owned Dominick's."),
             ('"The pie business does not fit.', "Yucaipa bought Dominick's.")),
            (1, 0),
        ),
        "validation": ((("A cat sat.",), ("A cat was sitting.",)), (1,)),
    },
    "stsb": {
        "train": (
            (("A plane takes off.", "A man plays."), ("An air plane is taking off.", "A dog runs.")),
            (5.0, 0.75),
        ),
        "validation": ((("A man.",), ("A person.",)), (3.8,)),
    },
    "qqp": {
        "train": (
            (("How is the life of a math student?", "How do I control my anger?"),
             ("Which is the best book?", "How do I stop being angry?")),
            (0, 1),
        ),
        "validation": ((("Why is the sky blue?",), ("What makes the sky blue?",)), (1,)),
    },
    "mnli": {
        "train": (
            (("Conceptually cream skimming has two dimensions.", "you know during the season.",
              "One of our number will do."),
             ("Product and geography are what make cream skimming work.", "You lose the things.",
              "We have no one free.")),
            (1, 0, 2),  # neutral, entailment, contradiction
        ),
        "validation_matched": ((("The new rights are nice.",), ("Everyone loves them.",)), (1,)),
        "validation_mismatched": (
            (('"Your gift is appreciated.',), ("Hundreds of students.",)), (2,)
        ),
    },
    "qnli": {
        "train": (
            (("What came into force?", "What is the name?"),
             ("The law came into force in 1994.", "The building is tall.")),
            (0, 1),  # entailment -> 0, not_entailment -> 1
        ),
        "validation": ((("Who?",), ("Nobody.",)), (1,)),
    },
    "rte": {
        "train": (
            (("No Weapons of Mass Destruction Found in Iraq Yet.",
              "\"That film wasn't too successful, but then 'WarGames,' came out.",
              "A place of sorrow became a place of celebration."),
             ("Weapons Found in Iraq.", 'The film "WarGames" was shot in 1983.',
              "Pope Benedict XVI is the new leader.")),
            (1, 1, 0),
        ),
        "validation": ((("Dana died.",), ("Dana is dead.",)), (0,)),
    },
    "wnli": {
        "train": (
            (("I stuck a pin through a carrot. It had a hole.",
              "John couldn't see the stage with Billy in front of him."),
             ("The carrot had a hole.", "Billy is so short.")),
            (1, 0),
        ),
        "validation": ((("The drain is clogged.",), ("The hair.",)), (0,)),
    },
}


def write_glue(root: Path, folders=GLUE_FILES) -> Path:
    for folder, files in folders.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / folder / name).write_text(text, encoding="utf-8")
    return root


def write_hub_copy(root: Path, shards: int = 1) -> Path:
    """Write EXPECTED as a local copy of nyu-mll/glue: <task>/<split>-0000i-of-0000n.parquet."""
    for name, splits in EXPECTED.items():
        task = TASKS[name]
        (root / name).mkdir(parents=True)
        for split, (texts, labels) in splits.items():
            frame = pd.DataFrame({f: list(col) for f, col in zip(task.text_fields, texts)})
            frame["label"], frame["idx"] = list(labels), range(len(labels))
            bounds = [len(frame) * i // shards for i in range(shards + 1)]
            for i in range(shards):
                part = frame.iloc[bounds[i] : bounds[i + 1]]
                part.to_parquet(root / name / f"{split}-{i:05d}-of-{shards:05d}.parquet")
    return root
