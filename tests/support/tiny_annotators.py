"""Tiny random-weight annotation models (OWLv2, SAM, Depth Anything) built from configs and
saved with ``save_pretrained``: they load through the same transformers classes as the real
checkpoints, with no hub access. Their outputs are meaningless; shapes and plumbing are real."""

from __future__ import annotations

from pathlib import Path


def build_tiny_owlv2(out: Path) -> Path:
    import torch
    import transformers
    from tiny_models import tiny_clip_tokenizer

    torch.manual_seed(0)
    config = transformers.Owlv2Config(
        text_config={"vocab_size": 600, "hidden_size": 32, "intermediate_size": 37,
                     "num_attention_heads": 4, "num_hidden_layers": 1,
                     "max_position_embeddings": 16, "bos_token_id": 519, "eos_token_id": 520,
                     "pad_token_id": 520},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                       "num_hidden_layers": 1, "image_size": 32, "patch_size": 8},
        projection_dim=32,
    )
    processor = transformers.Owlv2Processor(
        image_processor=transformers.Owlv2ImageProcessor(size={"height": 32, "width": 32}),
        tokenizer=tiny_clip_tokenizer(out / "vocab", max_length=16),
    )
    model = transformers.Owlv2ForObjectDetection(config)
    # Random box regressors send every box off the image; zeroed, each query's box is OWLv2's
    # prior for its patch (a grid of patch-sized boxes), as a trained model starts from.
    with torch.no_grad():
        model.box_head.dense2.weight.zero_()
        model.box_head.dense2.bias.zero_()
    model.save_pretrained(out / "owlv2")
    processor.save_pretrained(out / "owlv2")
    return out / "owlv2"


def build_tiny_sam(out: Path) -> Path:
    import torch
    import transformers

    torch.manual_seed(0)
    vision = transformers.SamVisionConfig(
        hidden_size=32, output_channels=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, image_size=64, patch_size=8, mlp_dim=32,
        global_attn_indexes=[0], window_size=4, num_pos_feats=8)
    prompt = transformers.SamPromptEncoderConfig(hidden_size=16, image_size=64, patch_size=8,
                                                 mask_input_channels=4)
    decoder = transformers.SamMaskDecoderConfig(hidden_size=16, num_hidden_layers=1,
                                                num_attention_heads=2, mlp_dim=32,
                                                iou_head_hidden_dim=16)
    config = transformers.SamConfig(vision_config=vision, prompt_encoder_config=prompt,
                                    mask_decoder_config=decoder)
    transformers.SamModel(config).save_pretrained(out / "sam")
    image_processor = transformers.SamImageProcessor(
        size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
        mask_size={"longest_edge": 16}, mask_pad_size={"height": 16, "width": 16})
    transformers.SamProcessor(image_processor=image_processor).save_pretrained(out / "sam")
    return out / "sam"


def build_tiny_depth_anything(out: Path) -> Path:
    import torch
    import transformers

    torch.manual_seed(0)
    backbone = transformers.Dinov2Config(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
        image_size=28, patch_size=14, out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False)
    config = transformers.DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=16, neck_hidden_sizes=[8, 8, 8, 8],
        fusion_hidden_size=8, head_hidden_size=8, patch_size=14)
    transformers.DepthAnythingForDepthEstimation(config).save_pretrained(out / "depth")
    transformers.DPTImageProcessor(
        size={"height": 28, "width": 28}, keep_aspect_ratio=False, do_pad=False,
    ).save_pretrained(out / "depth")
    return out / "depth"
