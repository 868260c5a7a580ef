"""Rasa's own command line, ``python -m rasa_addons.rasa_cli train|test|shell …``, the same as
``python -m rasa …`` except that the question classifier's file format is imported before Rasa
(rasa_addons.import_classifier_format): loading or saving the model no longer costs 17 s."""

from __future__ import annotations


def main() -> None:
    import rasa_addons

    rasa_addons.import_classifier_format()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
