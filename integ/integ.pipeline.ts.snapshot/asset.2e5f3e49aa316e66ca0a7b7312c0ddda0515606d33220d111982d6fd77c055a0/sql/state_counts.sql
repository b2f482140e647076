-- Stage 3: accredited facilities per state for one snapshot (docs/contract.md §2).
-- Parameters (Athena ExecutionParameters, passed as quoted string literals):
--   1. snapshot date  'YYYY-MM-DD'  (the partition of validated_facilities)
--   2. as-of date     'YYYY-MM-DD'
-- A facility is accredited as of d when at least one accreditation has valid_until >= d (compared
-- as DATEs). The same facility_id more than once in the snapshot counts once; states with no
-- accredited facility are omitted.
SELECT
  location.state AS state,
  count(DISTINCT facility_id) AS accredited_facilities
FROM validated_facilities
WHERE snapshot_date = ?
  AND any_match(accreditations, a -> from_iso8601_date(a.valid_until) >= CAST(? AS DATE))
GROUP BY location.state
ORDER BY state
