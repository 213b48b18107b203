-- Content types are canonical: `type/subtype`, lower-case, with at most a charset.
-- A declared type such as `text/plain;,text/html` was stored and served verbatim, and
-- browsers read the last type of such a list. Rows holding a plain type or a type with
-- a charset become their canonical form; other parameters are dropped; anything else
-- (lists, junk) becomes application/octet-stream. Idempotent.
UPDATE files SET mime = CASE
    WHEN lower(btrim(mime, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+$' THEN lower(btrim(mime, E' \t'))
    WHEN lower(btrim(mime, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+[ \t]*;[ \t]*charset[ \t]*=[ \t]*("[a-z0-9!#$%&*+.^_~-]+"|[a-z0-9!#$%&*+.^_~-]+)$'
      THEN regexp_replace(lower(btrim(mime, E' \t')), '^([^;]+?)[ \t]*;[ \t]*charset[ \t]*=[ \t]*"?([a-z0-9!#$%&*+.^_~-]+)"?$', '\1; charset=\2')
    WHEN lower(btrim(mime, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+[ \t]*;' AND position(',' IN mime) = 0
      THEN btrim(split_part(lower(btrim(mime, E' \t')), ';', 1), E' \t')
    ELSE 'application/octet-stream'
  END
WHERE mime IS DISTINCT FROM CASE
    WHEN lower(btrim(mime, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+$' THEN lower(btrim(mime, E' \t'))
    WHEN lower(btrim(mime, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+[ \t]*;[ \t]*charset[ \t]*=[ \t]*("[a-z0-9!#$%&*+.^_~-]+"|[a-z0-9!#$%&*+.^_~-]+)$'
      THEN regexp_replace(lower(btrim(mime, E' \t')), '^([^;]+?)[ \t]*;[ \t]*charset[ \t]*=[ \t]*"?([a-z0-9!#$%&*+.^_~-]+)"?$', '\1; charset=\2')
    WHEN lower(btrim(mime, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+[ \t]*;' AND position(',' IN mime) = 0
      THEN btrim(split_part(lower(btrim(mime, E' \t')), ';', 1), E' \t')
    ELSE 'application/octet-stream'
  END;

UPDATE uploads SET content_type = CASE
    WHEN lower(btrim(content_type, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+$' THEN lower(btrim(content_type, E' \t'))
    WHEN lower(btrim(content_type, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+[ \t]*;[ \t]*charset[ \t]*=[ \t]*("[a-z0-9!#$%&*+.^_~-]+"|[a-z0-9!#$%&*+.^_~-]+)$'
      THEN regexp_replace(lower(btrim(content_type, E' \t')), '^([^;]+?)[ \t]*;[ \t]*charset[ \t]*=[ \t]*"?([a-z0-9!#$%&*+.^_~-]+)"?$', '\1; charset=\2')
    WHEN lower(btrim(content_type, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+[ \t]*;' AND position(',' IN content_type) = 0
      THEN btrim(split_part(lower(btrim(content_type, E' \t')), ';', 1), E' \t')
    ELSE 'application/octet-stream'
  END
WHERE content_type IS DISTINCT FROM CASE
    WHEN lower(btrim(content_type, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+$' THEN lower(btrim(content_type, E' \t'))
    WHEN lower(btrim(content_type, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+[ \t]*;[ \t]*charset[ \t]*=[ \t]*("[a-z0-9!#$%&*+.^_~-]+"|[a-z0-9!#$%&*+.^_~-]+)$'
      THEN regexp_replace(lower(btrim(content_type, E' \t')), '^([^;]+?)[ \t]*;[ \t]*charset[ \t]*=[ \t]*"?([a-z0-9!#$%&*+.^_~-]+)"?$', '\1; charset=\2')
    WHEN lower(btrim(content_type, E' \t')) ~ '^[a-z0-9!#$%&''*+.^_`|~-]+/[a-z0-9!#$%&''*+.^_`|~-]+[ \t]*;' AND position(',' IN content_type) = 0
      THEN btrim(split_part(lower(btrim(content_type, E' \t')), ';', 1), E' \t')
    ELSE 'application/octet-stream'
  END;
