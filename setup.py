"""Packaging for flask-captcha-ext."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="flask-captcha-ext",
    version="0.1.0",
    description=(
        "CAPTCHA for Flask: self-hosted image, math and proof-of-work challenges, and "
        "reCAPTCHA, hCaptcha, Turnstile, Friendly Captcha, TrustCaptcha and gkCAPTCHA verification"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_packages(include=["flask_captcha_ext", "flask_captcha_ext.*"]),
    include_package_data=True,
    package_data={
        "flask_captcha_ext": [
            "py.typed",
            "templates/flask_captcha_ext/*",
            "static/flask_captcha_ext/*",
            "static/flask_captcha_ext/altcha/*",
            "selfhosted/fonts/*",
        ]
    },
    python_requires=">=3.9",
    install_requires=[
        "Flask>=2.3",
        "Flask-WTF>=1.2",
        "WTForms>=3.0",
        "requests>=2.31",
        "flask-cors>=4.0",
        "Pillow>=10.1",
        "altcha>=2.0",
    ],
    extras_require={
        "redis": ["redis>=4.2"],
        # CAPTCHA_POW_ALGORITHM = "ARGON2ID" (the altcha library derives keys with argon2-cffi).
        "argon2": ["argon2-cffi>=21.3"],
        # asgiref runs Flask's async def views (Flask[async]).
        "async": ["httpx>=0.25", "asgiref>=3.2"],
        # bench/bench_solvers.py: the captcha package to compare with, numpy for template
        # matching, torch (a CPU build will do) for the CNN solver.
        "bench": ["captcha>=0.5", "numpy>=1.24", "torch>=2.1"],
        "dev": [
            "redis>=4.2",
            "argon2-cffi>=21.3",
            "httpx>=0.25",
            "asgiref>=3.2",
            "pytest>=7.4",
            # tests/test_rates.py: our rate-limit strings and counter names are limits' own.
            "limits>=3.13",
            # tests/test_jws.py: our HS256 tokens are PyJWT's, byte for byte.
            "PyJWT>=2.8",
            "pytest-timeout>=2.2",
            "hypothesis>=6.90",
            "playwright>=1.40",
            "ruff>=0.4",
            "captcha>=0.5",
            "trustme>=1.1",
            "gunicorn>=21.2",
            "schemathesis>=4.0",
            "jsonschema>=4.17",
            "openapi-spec-validator>=0.7",
            "openapi-schema-validator>=0.6",
        ],
    },
    entry_points={},
    classifiers=[
        "Framework :: Flask",
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
        "Topic :: Internet :: WWW/HTTP :: Dynamic Content",
    ],
)
