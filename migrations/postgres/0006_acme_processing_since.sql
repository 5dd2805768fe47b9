-- When an ACME order was claimed for finalize: garbage collection fails an order left
-- `processing` far longer than any issuance takes (its front stopped mid-finalize).
ALTER TABLE acme_orders ADD COLUMN processing_since BIGINT;
