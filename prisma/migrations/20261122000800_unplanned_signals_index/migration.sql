-- Routing asks, for every order it claims, whether an earlier signal of a source routed to the same
-- connection is still unplanned; this keeps that question an index lookup.
CREATE INDEX signals_unplanned ON signals (source_id, seq) WHERE status IN ('received', 'queued');
