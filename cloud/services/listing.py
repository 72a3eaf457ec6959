"""Paged, stably sorted lists: one helper every list route's service uses."""

import peewee

# NULLs sort last in both directions on both dialects (SQLite and PostgreSQL differ by default).
_NULLS = "LAST"


def escape_like(text: str) -> str:
    """Make user text literal inside a LIKE pattern (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(field: peewee.Field, text: str) -> peewee.Expression:
    """Case-insensitive substring match of user text (wildcards in the text are literal)."""
    pattern = "%" + escape_like(text.lower()) + "%"
    return peewee.NodeList(
        (peewee.fn.LOWER(field), peewee.SQL("LIKE"), pattern, peewee.SQL("ESCAPE '\\'"))
    )


def page(query, model, *, sort: str, sort_fields: dict, limit: int, offset: int, render) -> dict:
    """{"items", "total", "limit", "offset"}; ties on the sort field break on the primary key so
    pages never repeat or skip a row."""
    name = sort.lstrip("-")
    field = sort_fields[name]
    key = model._meta.primary_key
    if sort.startswith("-"):
        order = (field.desc(nulls=_NULLS), key.desc())
    else:
        order = (field.asc(nulls=_NULLS), key.asc())
    total = query.count()
    rows = query.order_by(*order).limit(limit).offset(offset)
    return {
        "items": [render(row) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }
