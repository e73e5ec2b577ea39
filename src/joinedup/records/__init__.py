"""``records``: the shared care record: partners' FHIR resources with their provenance."""
