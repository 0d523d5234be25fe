-- Review finding 8 (PC-VENDOR-3, PC-STORE-1): each entry's retention end, committed in its Merkle
-- leaf together with `recorded` (leaf data `commitment || recorded || retain_until`), so that a
-- payload removed before its end is caught by `trygg audit verify` even after the event is gone.
-- NULL for entries written before: their leaf is the commitment alone and their payload is kept.
-- At retention end the store sets `salt`, `event` and `patient` to NULL together.
ALTER TABLE audit_entry ADD COLUMN retain_until INTEGER;
