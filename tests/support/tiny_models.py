"""Tiny random-weight models built from configs and saved to tmp dirs (nothing is downloaded):
the CLIP tokenizer, the GLIGEN pipeline and the OWL-ViT detector, shared by the model tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


transformers = pytest.importorskip("transformers")


diffusers = pytest.importorskip("diffusers")


# BPE merges the tiny tokenizer knows; every other word falls back to single characters.
_MERGES = ["r e", "re d</w>", "h o", "ho r", "hor s", "hors e</w>", "w a", "wa l", "wal l</w>"]


def _bytes_to_unicode() -> list[str]:
    """CLIP's byte-to-character table (every byte gets a printable character)."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
          *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return [chr(c) for c in cs]


def tiny_clip_tokenizer(folder: Path, max_length: int):
    """A CLIP tokenizer from a small vocab.json / merges.txt written into ``folder``."""
    chars = _bytes_to_unicode()
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m.split()) for m in _MERGES]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(_MERGES) + "\n")
    # positional: the first two parameters are (vocab_file, merges_file) in transformers 4 and
    # (vocab, merges) in 5, both accepting file paths
    return transformers.CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=max_length,
    )


@pytest.fixture(scope="module")
def tiny_gligen_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gligen")
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
        attention_type="gated",
    )
    vae = diffusers.AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4,
        sample_size=64,
    )
    scheduler = diffusers.DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=False,
    )
    text_encoder = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        vocab_size=600, max_position_embeddings=77, bos_token_id=519, eos_token_id=520,
        pad_token_id=520,
    ))
    tokenizer = tiny_clip_tokenizer(root / "vocab", max_length=77)
    # GLIGEN's gates start at 0 (tanh(0) = 0: grounding has no effect); open them so the test
    # can see that boxes change the image
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if name.endswith(("alpha_attn", "alpha_dense")):
                param.fill_(1.0)
    pipe = diffusers.StableDiffusionGLIGENPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(root / "pipe")
    return root / "pipe"


@pytest.fixture(scope="module")
def tiny_owlvit_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("owlvit")
    torch.manual_seed(0)
    config = transformers.OwlViTConfig(
        text_config={"vocab_size": 600, "hidden_size": 32, "intermediate_size": 37,
                     "num_attention_heads": 4, "num_hidden_layers": 2,
                     "max_position_embeddings": 16, "bos_token_id": 519, "eos_token_id": 520,
                     "pad_token_id": 520},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                       "num_hidden_layers": 2, "image_size": 32, "patch_size": 8},
        projection_dim=32,
    )
    model = transformers.OwlViTForObjectDetection(config)
    processor = transformers.OwlViTProcessor(
        image_processor=transformers.OwlViTImageProcessor(
            size={"height": 32, "width": 32}, crop_size={"height": 32, "width": 32},
        ),
        tokenizer=tiny_clip_tokenizer(root / "vocab", max_length=16),
    )
    model.save_pretrained(root / "model")
    processor.save_pretrained(root / "model")
    return root / "model"
