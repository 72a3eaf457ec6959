"""Bambu printer model names and the model codes slicers write into 3MF files."""

# Model code (slice_info `printer_model_id`, SSDP DevModel) -> display name.
# Source: shared/bambu-protocol.md section 6. N1 is the A1 mini and N2S the A1, not the reverse.
MODEL_CODES = {
    "BL-P001": "X1C",
    "BL-P002": "X1",
    "C13": "X1E",
    "C11": "P1P",
    "C12": "P1S",
    "N1": "A1 mini",
    "N2S": "A1",
    "N7": "P2S",
    "N6": "X2D",
    "O1D": "H2D",
    "O1S": "H2S",
}

_ALIASES = {
    "x1 carbon": "X1C",
    "x1-carbon": "X1C",
    "x1c": "X1C",
    "bambu lab x1 carbon": "X1C",
    "bambu lab x1-carbon": "X1C",
    "3dprinter-x1-carbon": "X1C",
    "3dprinter-x1": "X1",
    "a1mini": "A1 mini",
    "a1 mini": "A1 mini",
    "bambu lab a1 mini": "A1 mini",
}


def canonical_model(name_or_code: str | None) -> str | None:
    """'P1S', 'Bambu Lab P1S', 'C12' -> 'P1S'; unknown names come back trimmed, as given."""
    if not name_or_code:
        return None
    text = name_or_code.strip()
    if text.upper() in MODEL_CODES:
        return MODEL_CODES[text.upper()]
    lowered = text.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    if lowered.startswith("bambu lab "):
        text = text[len("bambu lab ") :]
    for name in MODEL_CODES.values():
        if name.lower() == text.lower():
            return name
    return text


def same_model(a: str | None, b: str | None) -> bool:
    """True when two names or codes denote the same printer model."""
    return a is not None and b is not None and canonical_model(a) == canonical_model(b)
