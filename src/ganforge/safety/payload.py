"""The watermark's payload: a 20-bit model id, a 12-bit keyed check and a BCH code over both.

59 coded bits: 32 data bits (id + check) and 27 BCH parity bits that correct up to 5 wrong bits. A random
59-bit word passes as a valid mark with probability about 1e-5 (BCH decoding succeeds ~1 time in 24, then
the 12-bit check must match), which is what keeps ``verify`` from seeing marks in real images.
"""

from __future__ import annotations

import hashlib
import os

import bchlib
import numpy as np

from ganforge.errors import ConfigError

ID_BITS, CHECK_BITS, BCH_T, BCH_M = 20, 12, 5, 6
DATA_BITS = ID_BITS + CHECK_BITS  # 32 = 4 bytes for the BCH encoder
_BCH = bchlib.BCH(t=BCH_T, m=BCH_M)
CODE_BITS = DATA_BITS + _BCH.ecc_bits  # 59
KEY = b"ganforge-watermark-v1"


def check_model_id(model_id: str) -> int:
    """The integer behind a model id (5 lower-case hex digits, 20 bits); ConfigError otherwise."""
    text = str(model_id).strip().lower()
    if len(text) != ID_BITS // 4 or any(ch not in "0123456789abcdef" for ch in text):
        raise ConfigError(f"a watermark model id is {ID_BITS // 4} hex digits (got {model_id!r})")
    return int(text, 16)


def new_model_id() -> str:
    """A random model id (5 hex digits)."""
    return f"{int.from_bytes(os.urandom(4), 'big') % (1 << ID_BITS):05x}"


def model_id_from_digest(hex_digest: str) -> str:
    """A deterministic model id from a weights checksum (for runs saved before ids existed)."""
    return f"{int(hashlib.sha256(KEY + hex_digest.encode()).hexdigest(), 16) % (1 << ID_BITS):05x}"


def _check_bits(ident: int) -> int:
    digest = hashlib.blake2b(ident.to_bytes(3, "big"), key=KEY, digest_size=4).digest()
    return int.from_bytes(digest, "big") >> (32 - CHECK_BITS)


def _to_bits(data: bytes, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, np.uint8))[:n]


def encode_id(model_id: str) -> np.ndarray:
    """The 59 coded bits (0/1) embedded for ``model_id``."""
    ident = check_model_id(model_id)
    data = ((ident << CHECK_BITS) | _check_bits(ident)).to_bytes(4, "big")
    return np.concatenate([_to_bits(data, DATA_BITS), _to_bits(_BCH.encode(data), _BCH.ecc_bits)])


def decode_bits(bits: np.ndarray, max_errors: int = BCH_T) -> tuple[str, int] | None:
    """(model id, corrected errors) when ``bits`` lies within ``max_errors`` (at most BCH_T) bits of the
    codeword of a valid id, else None.

    The decoder's correction is checked by re-encoding: the corrected data's 59-bit codeword must differ
    from ``bits`` in at most ``max_errors`` places (bchlib numbers the bits of the last, partial parity
    byte its own way, so its error locations are not compared with positions here)."""
    bits = np.asarray(bits, dtype=np.uint8)[:CODE_BITS]
    if bits.shape != (CODE_BITS,):
        return None
    data = bytearray(np.packbits(bits[:DATA_BITS]).tobytes())
    ecc = bytearray(np.packbits(bits[DATA_BITS:]).tobytes())
    if _BCH.decode(data, ecc) < 0:
        return None
    _BCH.correct(data, ecc)
    value = int.from_bytes(bytes(data), "big")
    ident = value >> CHECK_BITS
    if value & ((1 << CHECK_BITS) - 1) != _check_bits(ident):
        return None
    errors = int((encode_id(f"{ident:05x}") != bits).sum())
    return (f"{ident:05x}", errors) if errors <= min(max_errors, BCH_T) else None


def saved_model_id(config: dict) -> str | None:
    """A run's watermark key id from its config.json; for runs saved before ids existed, one derived from
    the weights' checksum (the same every time the run is loaded)."""
    if config.get("watermark_key_id"):
        return str(config["watermark_key_id"])
    return model_id_from_digest(config["weights_sha256"]) if config.get("weights_sha256") else None
