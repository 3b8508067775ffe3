"""The instrument shop's demo catalogue (seed 000): deterministic, so every run has the same skus.

Shared data, not a service: product-stub loads it into its database, LOMS stocks its skus and
checkout gives a worker to each of its categories, each without importing another service.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CATEGORIES: dict[str, str] = {
    "guitars": "Acoustic, electric and classical guitars, set up by our luthiers.",
    "basses": "Four- and five-string electric and acoustic basses.",
    "keyboards": "Digital pianos, stage pianos, synthesizers and controllers.",
    "drums": "Acoustic kits, electronic kits, snares and cymbals.",
    "wind": "Saxophones, trumpets, flutes, clarinets and trombones.",
    "strings": "Violins, violas, cellos and double basses.",
    "amplifiers": "Guitar, bass and keyboard amplifiers and cabinets.",
}

MANUFACTURERS: dict[str, tuple[str, list[str]]] = {
    "Fender": (
        "American maker of electric guitars, basses and amplifiers since 1946.",
        ["guitars", "basses", "amplifiers"],
    ),
    "Gibson": ("Nashville guitar maker known for the Les Paul and the SG.", ["guitars", "basses"]),
    "Yamaha": (
        "Japanese maker of nearly every instrument family.",
        ["guitars", "keyboards", "drums", "wind", "strings", "basses"],
    ),
    "Roland": ("Electronic instruments: synthesizers, stage pianos and V-Drums.", ["keyboards", "drums", "amplifiers"]),
    "Korg": ("Synthesizers, workstations and tuners.", ["keyboards"]),
    "Pearl": ("Drum kits and snares trusted on stages worldwide.", ["drums"]),
    "Selmer": ("Paris saxophones and clarinets.", ["wind"]),
    "Stentor": ("Student and advanced orchestral strings.", ["strings"]),
    "Ibanez": ("Guitars and basses built for speed.", ["guitars", "basses"]),
    "Marshall": ("British amplifiers that defined rock tone.", ["amplifiers"]),
    "Taylor": ("Californian acoustic guitars.", ["guitars"]),
    "Nord": ("Swedish stage keyboards in signature red.", ["keyboards"]),
    "Zildjian": ("Cymbals since 1623.", ["drums"]),
    "Bach": ("Professional trumpets and trombones.", ["wind"]),
}

MODELS: dict[str, tuple[list[str], list[str], tuple[int, int]]] = {
    "guitars": (
        [
            "Stratocaster",
            "Telecaster",
            "Les Paul",
            "SG",
            "RG",
            "Dreadnought",
            "Jazzmaster",
            "Grand Auditorium",
            "Classical",
            "Parlor",
        ],
        ["Standard", "Deluxe", "Player", "Studio", "Custom", "Vintage", "Pro"],
        (15_000, 350_000),
    ),
    "basses": (
        ["Precision Bass", "Jazz Bass", "SR", "Thunderbird", "TRBX", "Acoustic Bass"],
        ["Standard", "Player", "Active", "Fretless", "Five-String"],
        (20_000, 280_000),
    ),
    "keyboards": (
        ["Stage Piano", "Digital Piano", "Synthesizer", "Workstation", "MIDI Controller", "Arranger"],
        ["61", "73", "76", "88", "Mini", "Pro"],
        (9_000, 450_000),
    ),
    "drums": (
        ["Acoustic Kit", "Electronic Kit", "Snare", "Ride Cymbal", "Crash Cymbal", "Hi-Hat Pair"],
        ["Session", "Export", "Masters", "Studio", "Fusion"],
        (5_000, 300_000),
    ),
    "wind": (
        ["Alto Saxophone", "Tenor Saxophone", "Trumpet", "Flute", "Clarinet", "Trombone"],
        ["Student", "Intermediate", "Professional", "Reference"],
        (25_000, 700_000),
    ),
    "strings": (
        ["Violin", "Viola", "Cello", "Double Bass"],
        ["1/2", "3/4", "4/4", "Conservatoire", "Elysia"],
        (8_000, 400_000),
    ),
    "amplifiers": (
        ["Combo 15W", "Combo 40W", "Head 100W", "Cabinet 4x12", "Bass Combo", "Keyboard Amp"],
        ["Classic", "Modern", "Blues", "Studio"],
        (6_000, 250_000),
    ),
}

SINGULAR = {
    "guitars": "guitar",
    "basses": "bass",
    "keyboards": "keyboard",
    "drums": "piece of percussion",
    "wind": "wind instrument",
    "strings": "string instrument",
    "amplifiers": "amplifier",
}
PRODUCT_COUNT = 240


@dataclass(frozen=True)
class DemoProduct:
    sku: int
    name: str
    price: int
    description: str
    category: str
    manufacturer: str


def demo_products() -> list[DemoProduct]:
    rng = random.Random(256)  # the course number; any constant keeps the data the same every run
    makers_by_category: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for maker, (_, cats) in MANUFACTURERS.items():
        for c in cats:
            makers_by_category[c].append(maker)
    seen: set[str] = set()
    out: list[DemoProduct] = []
    sku = 1_000_000
    categories = list(CATEGORIES)
    while len(out) < PRODUCT_COUNT:
        category = categories[len(out) % len(categories)]
        models, trims, (lo, hi) = MODELS[category]
        maker = rng.choice(makers_by_category[category])
        name = f"{maker} {rng.choice(models)} {rng.choice(trims)}"
        if name in seen:
            name = f"{name} {rng.choice(['II', 'III', 'SE', 'LTD', 'MkII', 'Anniversary'])}"
            if name in seen:
                continue
        seen.add(name)
        sku += rng.randint(1, 9_000)
        price = round(rng.randint(lo, hi), -2) - 1  # 24999-style shop prices, in cents
        description = f"{name}: a {SINGULAR[category]} by {maker}. {CATEGORIES[category]}"
        out.append(DemoProduct(sku, name, price, description, category, maker))
    return out
