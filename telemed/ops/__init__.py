"""Operations: health, metrics, request ids and access logs."""
