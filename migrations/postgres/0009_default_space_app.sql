-- The space every tenant gets on its first `GET /spaces` belongs to the default app
-- namespace, `fluidcloud`, as on the hosted service; it was created with no app (null).
-- Such spaces are the ones named `My files` without an app: a space a partner created
-- with that exact name and no app cannot be told apart, and joins the default namespace
-- too (the app is a label; nothing else depends on it). Idempotent.
UPDATE spaces SET app = 'fluidcloud' WHERE app IS NULL AND name = 'My files';
