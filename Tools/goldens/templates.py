"""Rendered prompts of every registered conversation template, from the official MGM code.

Needs the official `mgm/conversation.py` (not part of this repository): set MGM_CONVERSATION_PY to
its path, e.g. extracted from a checkout of dvlab-research/MGM. Without it the committed fixture is
kept as it is.
"""
import importlib.util
import json
import os

from . import common

IMAGE = "<image>"

CASES = [
    ("single image", [("user", IMAGE + "\nWhat is unusual about this image?"), ("assistant", None)]),
    ("text only", [("user", "Hello there"), ("assistant", None)]),
    ("multi-turn", [("user", IMAGE + "\nDescribe it."), ("assistant", "A man ironing."),
                    ("user", "Where is he?"), ("assistant", None)]),
    ("two images", [("user", IMAGE + "\n" + IMAGE + "\nCompare the images."), ("assistant", None)]),
    ("unicode and spaces", [("user", IMAGE + "\n  Qu'est-ce que c'est ? 这是什么？ 🙂  "), ("assistant", None)]),
    ("empty user message", [("user", ""), ("assistant", None)]),
    ("generation marker", [("user", "Draw a cat wearing a hat <GEN>"), ("assistant", None)]),
    ("finished answer", [("user", "Hi"), ("assistant", "Hello!")]),
]


def label_images(prompt):
    # The CLI's labelling of two or more placeholders, applied after rendering.
    if prompt.count(IMAGE) < 2:
        return prompt
    pieces = prompt.split(IMAGE)
    out = ""
    for index, piece in enumerate(pieces):
        out += piece
        if index < len(pieces) - 1:
            out += f"Image {index + 1}:" + IMAGE
    return out


def generate():
    path = os.environ.get("MGM_CONVERSATION_PY")
    if not path or not os.path.exists(path):
        print("  skipped: set MGM_CONVERSATION_PY to the official mgm/conversation.py")
        return
    spec = importlib.util.spec_from_file_location("mgm_conversation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    records = []
    for key in sorted(module.conv_templates):
        for case_name, messages in CASES:
            conv = module.conv_templates[key].copy()
            for role, text in messages:
                conv.append_message(conv.roles[0] if role == "user" else conv.roles[1], text)
            try:
                prompt = conv.get_prompt()
            except (AssertionError, TypeError) as error:
                records.append({"template": key, "case": case_name, "messages": messages, "error": str(error)})
                continue
            records.append({"template": key, "case": case_name, "messages": messages,
                            "prompt": prompt, "labelled": label_images(prompt)})
    out = os.path.join(common.REPO, "Tests", "MGPipelineTests", "Fixtures", "templates.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(records, handle, ensure_ascii=False, indent=1)
    print(f"  {len(records)} prompts")
