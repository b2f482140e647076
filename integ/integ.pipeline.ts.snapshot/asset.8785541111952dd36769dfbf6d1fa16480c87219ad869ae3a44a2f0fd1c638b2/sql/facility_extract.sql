-- Stage 1: the facility extract of one snapshot, unloaded to Parquet (docs/contract.md §3).
-- Parameter (Athena ExecutionParameters, a quoted string literal): 1. snapshot date 'YYYY-MM-DD'.
-- The TO location placeholder is replaced by the runtime with a fresh staging URI (configuration + date + token).
-- A facility_id listed more than once in the snapshot appears once: the row of the first file in
-- key order ("$path"), ties broken by the remaining columns.
-- Column types match the facility_metrics table: cardinality() is bigint in Trino, cast to integer.
UNLOAD (
  SELECT
    facility_id,
    facility_name,
    employee_count,
    CAST(cardinality(services) AS integer) AS number_of_offered_services,
    from_iso8601_date(element_at(accreditations, 1).valid_until) AS expiry_date_of_first_accreditation,
    array_min(transform(accreditations, a -> from_iso8601_date(a.valid_until))) AS earliest_accreditation_expiry,
    from_iso8601_date(snapshot_date) AS snapshot_date
  FROM (
    SELECT
      facility_id,
      facility_name,
      employee_count,
      services,
      accreditations,
      snapshot_date,
      row_number() OVER (
        PARTITION BY facility_id
        ORDER BY "$path", facility_name, employee_count
      ) AS occurrence
    FROM validated_facilities
    WHERE snapshot_date = ?
  ) AS facilities
  WHERE occurrence = 1
)
TO '{{output_location}}'
WITH (format = 'PARQUET', compression = 'SNAPPY')
