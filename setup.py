"""Package list only (everything else is in pyproject.toml): the discovered packages plus the
migrations folder, which ships as ``idp.migrations`` (see ``[tool.setuptools]``)."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["idp*", "relying_party_demo*"]),
        "idp.migrations",
        "idp.migrations.versions",
    ]
)
