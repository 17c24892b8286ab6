\restrict dbmate

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: auth; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA auth;


--
-- Name: gdp_migrations; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA gdp_migrations;


--
-- Name: pgmq; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA pgmq;


--
-- Name: segments; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA segments;


--
-- Name: SCHEMA segments; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON SCHEMA segments IS 'One view per segment, returning person_id; registered in shared.segment.';


--
-- Name: shared; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA shared;


--
-- Name: SCHEMA shared; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON SCHEMA shared IS 'Growth Data Plane: people, events, delivery records and the deployment gate. Service role only.';


--
-- Name: message_record; Type: TYPE; Schema: pgmq; Owner: -
--

CREATE TYPE pgmq.message_record AS (
	msg_id bigint,
	read_ct integer,
	enqueued_at timestamp with time zone,
	last_read_at timestamp with time zone,
	vt timestamp with time zone,
	message jsonb,
	headers jsonb
);


--
-- Name: metrics_result; Type: TYPE; Schema: pgmq; Owner: -
--

CREATE TYPE pgmq.metrics_result AS (
	queue_name text,
	queue_length bigint,
	newest_msg_age_sec integer,
	oldest_msg_age_sec integer,
	total_messages bigint,
	scrape_time timestamp with time zone,
	queue_visible_length bigint,
	default_partition_length bigint
);


--
-- Name: queue_record; Type: TYPE; Schema: pgmq; Owner: -
--

CREATE TYPE pgmq.queue_record AS (
	queue_name character varying,
	is_partitioned boolean,
	is_unlogged boolean,
	created_at timestamp with time zone
);


--
-- Name: consent_status; Type: TYPE; Schema: shared; Owner: -
--

CREATE TYPE shared.consent_status AS ENUM (
    'unknown',
    'granted',
    'withdrawn'
);


--
-- Name: lifecycle_stage; Type: TYPE; Schema: shared; Owner: -
--

CREATE TYPE shared.lifecycle_stage AS ENUM (
    'lead',
    'activated',
    'customer',
    'churned'
);


--
-- Name: jwt(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')
                )::jsonb
            $$;


--
-- Name: role(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE
    AS $$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
                )::text
            $$;


--
-- Name: uid(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
                )::uuid
            $$;


--
-- Name: _belongs_to_pgmq(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq._belongs_to_pgmq(table_name text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    sql TEXT;
    result BOOLEAN;
BEGIN
  SELECT EXISTS (
    SELECT 1
    FROM pg_depend
    WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgmq')
    AND objid = (
        SELECT oid
        FROM pg_class
        WHERE relname = table_name
    )
  ) INTO result;
  RETURN result;
END;
$$;


--
-- Name: _create_fifo_index_if_not_exists(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq._create_fifo_index_if_not_exists(queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $_$
DECLARE
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
    index_name TEXT := qtable || '_fifo_idx';
BEGIN
    -- Create GIN index on headers for efficient FIFO key lookups
    EXECUTE FORMAT(
        $QUERY$
        CREATE INDEX IF NOT EXISTS %I ON pgmq.%I USING GIN (headers);
        $QUERY$,
        index_name, qtable
    );
END;
$_$;


--
-- Name: _ensure_pg_partman_installed(); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq._ensure_pg_partman_installed() RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF NOT pgmq._extension_exists('pg_partman') THEN
    RAISE EXCEPTION 'pg_partman is required for partitioned queues';
  END IF;
END;
$$;


--
-- Name: _extension_exists(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq._extension_exists(extension_name text) RETURNS boolean
    LANGUAGE sql
    AS $$
SELECT EXISTS (
    SELECT 1
    FROM pg_extension
    WHERE extname = extension_name
)
$$;


--
-- Name: _get_partition_col(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq._get_partition_col(partition_interval text) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
  num INTEGER;
BEGIN
    BEGIN
        num := partition_interval::INTEGER;
        RETURN 'msg_id';
    EXCEPTION
        WHEN others THEN
            RETURN 'enqueued_at';
    END;
END;
$$;


--
-- Name: _get_pg_partman_major_version(); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq._get_pg_partman_major_version() RETURNS integer
    LANGUAGE sql
    AS $$
  SELECT split_part(extversion, '.', 1)::INT
  FROM pg_extension
  WHERE extname = 'pg_partman'
$$;


--
-- Name: _get_pg_partman_schema(); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq._get_pg_partman_schema() RETURNS text
    LANGUAGE sql
    AS $$
  SELECT
    extnamespace::regnamespace::text
  FROM
    pg_extension
  WHERE
    extname = 'pg_partman';
$$;


--
-- Name: _send_batch(text, jsonb[], jsonb[], timestamp with time zone); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq._send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
            $QUERY$
        INSERT INTO pgmq.%I (vt, message, headers)
        SELECT $2, unnest($1), unnest(coalesce($3, ARRAY[]::jsonb[]))
        RETURNING msg_id;
        $QUERY$,
            qtable
           );
    RETURN QUERY EXECUTE sql USING msgs, delay, headers;
END;
$_$;


--
-- Name: _validate_batch_params(jsonb[], jsonb[]); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq._validate_batch_params(msgs jsonb[], headers jsonb[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- Validate that msgs is not NULL or empty
    IF msgs IS NULL OR array_length(msgs, 1) IS NULL THEN
        RAISE EXCEPTION 'msgs cannot be NULL or empty';
    END IF;

    -- Validate that headers array length matches msgs array length if headers is provided
    -- Note: array_length returns NULL for empty arrays, so we use COALESCE to treat empty arrays as length 0
    IF headers IS NOT NULL AND COALESCE(array_length(headers, 1), 0) != COALESCE(array_length(msgs, 1), 0) THEN
        RAISE EXCEPTION 'headers array length (%) must match msgs array length (%)',
            COALESCE(array_length(headers, 1), 0), COALESCE(array_length(msgs, 1), 0);
    END IF;
END;
$$;


--
-- Name: acquire_queue_lock(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.acquire_queue_lock(queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('pgmq.queue_' || queue_name));
END;
$$;


--
-- Name: archive(text, bigint[]); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.archive(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
    atable TEXT := pgmq.format_table_name(queue_name, 'a');
BEGIN
    sql := FORMAT(
        $QUERY$
        WITH archived AS (
            DELETE FROM pgmq.%I
            WHERE msg_id = ANY($1)
            RETURNING msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers
        )
        INSERT INTO pgmq.%I (msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers)
        SELECT msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers
        FROM archived
        RETURNING msg_id;
        $QUERY$,
        qtable, atable
    );
    RETURN QUERY EXECUTE sql USING msg_ids;
END;
$_$;


--
-- Name: archive(text, bigint); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.archive(queue_name text, msg_id bigint) RETURNS boolean
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    result BIGINT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
    atable TEXT := pgmq.format_table_name(queue_name, 'a');
BEGIN
    sql := FORMAT(
        $QUERY$
        WITH archived AS (
            DELETE FROM pgmq.%I
            WHERE msg_id = $1
            RETURNING msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers
        )
        INSERT INTO pgmq.%I (msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers)
        SELECT msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers
        FROM archived
        RETURNING msg_id;
        $QUERY$,
        qtable, atable
    );
    EXECUTE sql USING msg_id INTO result;
    RETURN NOT (result IS NULL);
END;
$_$;


--
-- Name: bind_topic(text, text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.bind_topic(pattern text, queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pgmq.validate_topic_pattern(pattern);
    IF queue_name IS NULL OR queue_name = '' THEN
        RAISE EXCEPTION 'queue_name cannot be NULL or empty';
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE meta.queue_name = bind_topic.queue_name) THEN
        RAISE EXCEPTION 'Queue "%" does not exist. Create the queue first using pgmq.create()', queue_name;
    END IF;

    INSERT INTO pgmq.topic_bindings (pattern, queue_name)
    VALUES (pattern, queue_name)
    ON CONFLICT ON CONSTRAINT topic_bindings_unique_pattern_queue DO NOTHING;
END;
$$;


--
-- Name: convert_archive_partitioned(text, text, text, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.convert_archive_partitioned(table_name text, partition_interval text DEFAULT '10000'::text, retention_interval text DEFAULT '100000'::text, leading_partition integer DEFAULT 10) RETURNS void
    LANGUAGE plpgsql
    AS $_$
DECLARE
  a_table_name TEXT := pgmq.format_table_name(table_name, 'a');
  a_table_name_old TEXT := pgmq.format_table_name(table_name, 'a') || '_old';
  qualified_a_table_name TEXT := format('pgmq.%I', a_table_name);
  partition_col TEXT;
  a_partition_col TEXT;
BEGIN

  PERFORM c.relkind
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = a_table_name
    AND c.relkind = 'p';

  IF FOUND THEN
    RAISE NOTICE 'Table %s is already partitioned', a_table_name;
    RETURN;
  END IF;

  PERFORM c.relkind
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = a_table_name
    AND c.relkind = 'r';

  IF NOT FOUND THEN
    RAISE NOTICE 'Table %s does not exists', a_table_name;
    RETURN;
  END IF;

  SELECT pgmq._get_partition_col(partition_interval) INTO partition_col;

  -- For archive tables, use archived_at for time-based partitioning
  IF partition_col = 'enqueued_at' THEN
    a_partition_col := 'archived_at';
  ELSE
    a_partition_col := partition_col;
  END IF;

  EXECUTE 'ALTER TABLE ' || qualified_a_table_name || ' RENAME TO ' || a_table_name_old;

  -- When partitioning by time (archived_at), we need to exclude constraints and indexes
  -- because the existing PRIMARY KEY on msg_id alone is incompatible with partitioning by archived_at.
  -- When partitioning by msg_id, we can keep all constraints including PRIMARY KEY.
  IF a_partition_col = 'archived_at' THEN
    EXECUTE format( 'CREATE TABLE pgmq.%I (LIKE pgmq.%I including defaults including generated including storage including comments) PARTITION BY RANGE (%I)', a_table_name, a_table_name_old, a_partition_col );
  ELSE
    EXECUTE format( 'CREATE TABLE pgmq.%I (LIKE pgmq.%I including all) PARTITION BY RANGE (%I)', a_table_name, a_table_name_old, a_partition_col );
  END IF;

  EXECUTE 'ALTER INDEX pgmq.archived_at_idx_' || table_name || ' RENAME TO archived_at_idx_' || table_name || '_old';
  EXECUTE 'CREATE INDEX archived_at_idx_'|| table_name || ' ON ' || qualified_a_table_name ||'(archived_at)';

  -- https://github.com/pgpartman/pg_partman/blob/master/doc/pg_partman.md
  -- p_parent_table - the existing parent table. MUST be schema qualified, even if in public schema.
  EXECUTE FORMAT(
    $QUERY$
    SELECT %I.create_parent(
      p_parent_table := %L,
      p_control := %L,
      p_interval := %L,
      p_type := case
        when pgmq._get_pg_partman_major_version() = 5 then 'range'
        else 'native'
      end
    )
    $QUERY$,
    pgmq._get_pg_partman_schema(),
    qualified_a_table_name,
    a_partition_col,
    partition_interval
  );

  EXECUTE FORMAT(
    $QUERY$
    UPDATE %I.part_config
    SET
      retention = %L,
      retention_keep_table = false,
      retention_keep_index = false,
      infinite_time_partitions = true
    WHERE
      parent_table = %L;
    $QUERY$,
    pgmq._get_pg_partman_schema(),
    retention_interval,
    qualified_a_table_name
  );
END;
$_$;


--
-- Name: create(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq."create"(queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pgmq.create_non_partitioned(queue_name);
END;
$$;


--
-- Name: create_fifo_index(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.create_fifo_index(queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pgmq._create_fifo_index_if_not_exists(queue_name);
END;
$$;


--
-- Name: create_fifo_indexes_all(); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.create_fifo_indexes_all() RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    queue_record RECORD;
BEGIN
    FOR queue_record IN SELECT queue_name FROM pgmq.meta LOOP
        PERFORM pgmq.create_fifo_index(queue_record.queue_name);
    END LOOP;
END;
$$;


--
-- Name: create_non_partitioned(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.create_non_partitioned(queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $_$
DECLARE
  qtable TEXT := pgmq.format_table_name(queue_name, 'q');
  qtable_seq TEXT := qtable || '_msg_id_seq';
  atable TEXT := pgmq.format_table_name(queue_name, 'a');
BEGIN
  PERFORM pgmq.validate_queue_name(queue_name);
  PERFORM pgmq.acquire_queue_lock(queue_name);

  EXECUTE FORMAT(
    $QUERY$
    CREATE TABLE IF NOT EXISTS pgmq.%I (
        msg_id BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
        read_ct INT DEFAULT 0 NOT NULL,
        enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        last_read_at TIMESTAMP WITH TIME ZONE,
        vt TIMESTAMP WITH TIME ZONE NOT NULL,
        message JSONB,
        headers JSONB
    )
    $QUERY$,
    qtable
  );

  EXECUTE FORMAT(
    $QUERY$
    CREATE TABLE IF NOT EXISTS pgmq.%I (
      msg_id BIGINT PRIMARY KEY,
      read_ct INT DEFAULT 0 NOT NULL,
      enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
      last_read_at TIMESTAMP WITH TIME ZONE,
      archived_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
      vt TIMESTAMP WITH TIME ZONE NOT NULL,
      message JSONB,
      headers JSONB
    );
    $QUERY$,
    atable
  );

  EXECUTE FORMAT(
    $QUERY$
    CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (vt ASC);
    $QUERY$,
    qtable || '_vt_idx', qtable
  );

  EXECUTE FORMAT(
    $QUERY$
    CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (archived_at);
    $QUERY$,
    'archived_at_idx_' || queue_name, atable
  );

  EXECUTE FORMAT(
    $QUERY$
    INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged)
    VALUES (%L, false, false)
    ON CONFLICT
    DO NOTHING;
    $QUERY$,
    queue_name
  );

END;
$_$;


--
-- Name: create_partitioned(text, text, text, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.create_partitioned(queue_name text, partition_interval text DEFAULT '10000'::text, retention_interval text DEFAULT '100000'::text, premake integer DEFAULT 4) RETURNS void
    LANGUAGE plpgsql
    AS $_$
DECLARE
  partition_col TEXT;
  a_partition_col TEXT;
  qtable TEXT := pgmq.format_table_name(queue_name, 'q');
  qtable_seq TEXT := qtable || '_msg_id_seq';
  atable TEXT := pgmq.format_table_name(queue_name, 'a');
  fq_qtable TEXT := 'pgmq.' || qtable;
  fq_atable TEXT := 'pgmq.' || atable;
BEGIN
  PERFORM pgmq.validate_queue_name(queue_name);
  PERFORM pgmq.acquire_queue_lock(queue_name);
  PERFORM pgmq._ensure_pg_partman_installed();
  IF premake < 1 THEN
    RAISE EXCEPTION 'premake must be at least 1, got %', premake;
  END IF;
  SELECT pgmq._get_partition_col(partition_interval) INTO partition_col;

  EXECUTE FORMAT(
    $QUERY$
    CREATE TABLE IF NOT EXISTS pgmq.%I (
        msg_id BIGINT GENERATED BY DEFAULT AS IDENTITY,
        read_ct INT DEFAULT 0 NOT NULL,
        enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        last_read_at TIMESTAMP WITH TIME ZONE,
        vt TIMESTAMP WITH TIME ZONE NOT NULL,
        message JSONB,
        headers JSONB
    ) PARTITION BY RANGE (%I)
    $QUERY$,
    qtable, partition_col
  );

  -- https://github.com/pgpartman/pg_partman/blob/master/doc/pg_partman.md
  -- p_parent_table - the existing parent table. MUST be schema qualified, even if in public schema.
  EXECUTE FORMAT(
    $QUERY$
    SELECT %I.create_parent(
      p_parent_table := %L,
      p_control := %L,
      p_interval := %L,
      p_premake := %s,
      p_type := case
        when pgmq._get_pg_partman_major_version() = 5 then 'range'
        else 'native'
      end
    )
    $QUERY$,
    pgmq._get_pg_partman_schema(),
    fq_qtable,
    partition_col,
    partition_interval,
    premake
  );

  EXECUTE FORMAT(
    $QUERY$
    CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (%I);
    $QUERY$,
    qtable || '_part_idx', qtable, partition_col
  );

  EXECUTE FORMAT(
    $QUERY$
    UPDATE %I.part_config
    SET
        retention = %L,
        retention_keep_table = false,
        retention_keep_index = true,
        automatic_maintenance = 'on'
    WHERE parent_table = %L;
    $QUERY$,
    pgmq._get_pg_partman_schema(),
    retention_interval,
    'pgmq.' || qtable
  );

  EXECUTE FORMAT(
    $QUERY$
    INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged)
    VALUES (%L, true, false)
    ON CONFLICT
    DO NOTHING;
    $QUERY$,
    queue_name
  );

  IF partition_col = 'enqueued_at' THEN
    a_partition_col := 'archived_at';
  ELSE
    a_partition_col := partition_col;
  END IF;

  EXECUTE FORMAT(
    $QUERY$
    CREATE TABLE IF NOT EXISTS pgmq.%I (
      msg_id BIGINT NOT NULL,
      read_ct INT DEFAULT 0 NOT NULL,
      enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
      last_read_at TIMESTAMP WITH TIME ZONE,
      archived_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
      vt TIMESTAMP WITH TIME ZONE NOT NULL,
      message JSONB,
      headers JSONB
    ) PARTITION BY RANGE (%I);
    $QUERY$,
    atable, a_partition_col
  );

  -- https://github.com/pgpartman/pg_partman/blob/master/doc/pg_partman.md
  -- p_parent_table - the existing parent table. MUST be schema qualified, even if in public schema.
  EXECUTE FORMAT(
    $QUERY$
    SELECT %I.create_parent(
      p_parent_table := %L,
      p_control := %L,
      p_interval := %L,
      p_premake := %s,
      p_type := case
        when pgmq._get_pg_partman_major_version() = 5 then 'range'
        else 'native'
      end
    )
    $QUERY$,
    pgmq._get_pg_partman_schema(),
    fq_atable,
    a_partition_col,
    partition_interval,
    premake
  );

  EXECUTE FORMAT(
    $QUERY$
    UPDATE %I.part_config
    SET
        retention = %L,
        retention_keep_table = false,
        retention_keep_index = true,
        automatic_maintenance = 'on'
    WHERE parent_table = %L;
    $QUERY$,
    pgmq._get_pg_partman_schema(),
    retention_interval,
    'pgmq.' || atable
  );

  EXECUTE FORMAT(
    $QUERY$
    CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (archived_at);
    $QUERY$,
    'archived_at_idx_' || queue_name, atable
  );

END;
$_$;


--
-- Name: create_unlogged(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.create_unlogged(queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $_$
DECLARE
  qtable TEXT := pgmq.format_table_name(queue_name, 'q');
  qtable_seq TEXT := qtable || '_msg_id_seq';
  atable TEXT := pgmq.format_table_name(queue_name, 'a');
BEGIN
  PERFORM pgmq.validate_queue_name(queue_name);
  PERFORM pgmq.acquire_queue_lock(queue_name);

  EXECUTE FORMAT(
    $QUERY$
    CREATE UNLOGGED TABLE IF NOT EXISTS pgmq.%I (
        msg_id BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
        read_ct INT DEFAULT 0 NOT NULL,
        enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        last_read_at TIMESTAMP WITH TIME ZONE,
        vt TIMESTAMP WITH TIME ZONE NOT NULL,
        message JSONB,
        headers JSONB
    )
    $QUERY$,
    qtable
  );

  EXECUTE FORMAT(
    $QUERY$
    CREATE TABLE IF NOT EXISTS pgmq.%I (
      msg_id BIGINT PRIMARY KEY,
      read_ct INT DEFAULT 0 NOT NULL,
      enqueued_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
      last_read_at TIMESTAMP WITH TIME ZONE,
      archived_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
      vt TIMESTAMP WITH TIME ZONE NOT NULL,
      message JSONB,
      headers JSONB
    );
    $QUERY$,
    atable
  );

  EXECUTE FORMAT(
    $QUERY$
    CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (vt ASC);
    $QUERY$,
    qtable || '_vt_idx', qtable
  );

  EXECUTE FORMAT(
    $QUERY$
    CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (archived_at);
    $QUERY$,
    'archived_at_idx_' || queue_name, atable
  );

  EXECUTE FORMAT(
    $QUERY$
    INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged)
    VALUES (%L, false, true)
    ON CONFLICT
    DO NOTHING;
    $QUERY$,
    queue_name
  );
END;
$_$;


--
-- Name: delete(text, bigint[]); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.delete(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
        $QUERY$
        DELETE FROM pgmq.%I
        WHERE msg_id = ANY($1)
        RETURNING msg_id
        $QUERY$,
        qtable
    );
    RETURN QUERY EXECUTE sql USING msg_ids;
END;
$_$;


--
-- Name: delete(text, bigint); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.delete(queue_name text, msg_id bigint) RETURNS boolean
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    result BIGINT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
        $QUERY$
        DELETE FROM pgmq.%I
        WHERE msg_id = $1
        RETURNING msg_id
        $QUERY$,
        qtable
    );
    EXECUTE sql USING msg_id INTO result;
    RETURN NOT (result IS NULL);
END;
$_$;


--
-- Name: detach_archive(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.detach_archive(queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  atable TEXT := pgmq.format_table_name(queue_name, 'a');
BEGIN
  RAISE WARNING 'detach_archive(queue_name) is deprecated and is a no-op. It will be removed in PGMQ v2.0. Archive tables are no longer member objects.';
END
$$;


--
-- Name: disable_notify_insert(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.disable_notify_insert(queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $_$
DECLARE
  qtable TEXT := pgmq.format_table_name(queue_name, 'q');
  v_queue_name TEXT := queue_name;
BEGIN
  EXECUTE FORMAT(
    $QUERY$
    DROP TRIGGER IF EXISTS trigger_notify_queue_insert_listeners ON pgmq.%I;
    $QUERY$,
    qtable
  );

  DELETE FROM pgmq.notify_insert_throttle nit WHERE nit.queue_name = v_queue_name;
END;
$_$;


--
-- Name: drop_queue(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.drop_queue(queue_name text) RETURNS boolean
    LANGUAGE plpgsql
    AS $_$
DECLARE
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
    qtable_seq TEXT := qtable || '_msg_id_seq';
    fq_qtable TEXT := 'pgmq.' || qtable;
    atable TEXT := pgmq.format_table_name(queue_name, 'a');
    fq_atable TEXT := 'pgmq.' || atable;
    partitioned BOOLEAN;
BEGIN
    PERFORM pgmq.acquire_queue_lock(queue_name);
    EXECUTE FORMAT(
        $QUERY$
        SELECT is_partitioned FROM pgmq.meta WHERE queue_name = %L
        $QUERY$,
        queue_name
    ) INTO partitioned;

    -- check if the queue exists
    IF NOT EXISTS (
        SELECT 1
        FROM information_schema.tables
        WHERE table_name = qtable and table_schema = 'pgmq'
    ) THEN
        RAISE NOTICE 'pgmq queue `%` does not exist', queue_name;
        RETURN FALSE;
    END IF;

    EXECUTE FORMAT(
        $QUERY$
        DROP TABLE IF EXISTS pgmq.%I
        $QUERY$,
        qtable
    );

    EXECUTE FORMAT(
        $QUERY$
        DROP TABLE IF EXISTS pgmq.%I
        $QUERY$,
        atable
    );

     IF EXISTS (
          SELECT 1
          FROM information_schema.tables
          WHERE table_name = 'meta' and table_schema = 'pgmq'
     ) THEN
        EXECUTE FORMAT(
            $QUERY$
            DELETE FROM pgmq.meta WHERE queue_name = %L
            $QUERY$,
            queue_name
        );
     END IF;

     IF partitioned THEN
        EXECUTE FORMAT(
          $QUERY$
          DELETE FROM %I.part_config where parent_table in (%L, %L)
          $QUERY$,
          pgmq._get_pg_partman_schema(), fq_qtable, fq_atable
        );
     END IF;

    RETURN TRUE;
END;
$_$;


--
-- Name: drop_queue(text, boolean); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.drop_queue(queue_name text, partitioned boolean) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
    fq_qtable TEXT := 'pgmq.' || qtable;
    atable TEXT := pgmq.format_table_name(queue_name, 'a');
    fq_atable TEXT := 'pgmq.' || atable;
BEGIN
    RAISE WARNING 'drop_queue(queue_name, partitioned) is deprecated and will be removed in PGMQ v2.0. Use drop_queue(queue_name) instead';

    PERFORM pgmq.drop_queue(queue_name);

    RETURN TRUE;
END;
$$;


--
-- Name: enable_notify_insert(text, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.enable_notify_insert(queue_name text, throttle_interval_ms integer DEFAULT 250) RETURNS void
    LANGUAGE plpgsql
    AS $_$
DECLARE
  qtable TEXT := pgmq.format_table_name(queue_name, 'q');
  v_queue_name TEXT := queue_name;
  v_throttle_interval_ms INTEGER := throttle_interval_ms;
BEGIN
  -- Validate that throttle_interval_ms is non-negative
  IF v_throttle_interval_ms < 0 THEN
    RAISE EXCEPTION 'throttle_interval_ms must be non-negative';
  END IF;

  -- Validate that the queue table exists
  IF NOT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = 'pgmq' AND table_name = qtable) THEN
    RAISE EXCEPTION 'Queue "%" does not exist. Create it first using pgmq.create()', v_queue_name;
  END IF;

  PERFORM pgmq.disable_notify_insert(v_queue_name);

  INSERT INTO pgmq.notify_insert_throttle (queue_name, throttle_interval_ms)
  VALUES (v_queue_name, v_throttle_interval_ms)
  ON CONFLICT ON CONSTRAINT notify_insert_throttle_queue_name_key DO UPDATE
      SET throttle_interval_ms = EXCLUDED.throttle_interval_ms,
          last_notified_at = to_timestamp(0);

  EXECUTE FORMAT(
    $QUERY$
    CREATE CONSTRAINT TRIGGER trigger_notify_queue_insert_listeners
    AFTER INSERT ON pgmq.%I
    DEFERRABLE FOR EACH ROW
    EXECUTE PROCEDURE pgmq.notify_queue_listeners()
    $QUERY$,
    qtable
  );
END;
$_$;


--
-- Name: format_table_name(text, text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.format_table_name(queue_name text, prefix text) RETURNS text
    LANGUAGE plpgsql
    AS $_$
BEGIN
    IF queue_name ~ '\$|;|--|'''
    THEN
        RAISE EXCEPTION 'queue name contains invalid characters: $, ;, --, or \''';
    END IF;
    RETURN lower(prefix || '_' || queue_name);
END;
$_$;


--
-- Name: list_notify_insert_throttles(); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.list_notify_insert_throttles() RETURNS TABLE(queue_name text, throttle_interval_ms integer, last_notified_at timestamp with time zone)
    LANGUAGE sql STABLE
    AS $$
    SELECT queue_name, throttle_interval_ms, last_notified_at
    FROM pgmq.notify_insert_throttle
    ORDER BY queue_name;
$$;


--
-- Name: list_queues(); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.list_queues() RETURNS SETOF pgmq.queue_record
    LANGUAGE plpgsql
    AS $$
BEGIN
  RETURN QUERY SELECT * FROM pgmq.meta;
END
$$;


--
-- Name: list_topic_bindings(); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.list_topic_bindings() RETURNS TABLE(pattern text, queue_name text, bound_at timestamp with time zone, compiled_regex text)
    LANGUAGE sql STABLE
    AS $$
    SELECT pattern, queue_name, bound_at, compiled_regex
    FROM pgmq.topic_bindings
    ORDER BY bound_at DESC, pattern, queue_name;
$$;


--
-- Name: list_topic_bindings(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.list_topic_bindings(queue_name text) RETURNS TABLE(pattern text, queue_name text, bound_at timestamp with time zone, compiled_regex text)
    LANGUAGE sql STABLE
    AS $$
    SELECT pattern, tb.queue_name, bound_at, compiled_regex
    FROM pgmq.topic_bindings tb
    WHERE tb.queue_name = list_topic_bindings.queue_name
    ORDER BY bound_at DESC, pattern;
$$;


--
-- Name: metrics(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.metrics(queue_name text) RETURNS pgmq.metrics_result
    LANGUAGE plpgsql
    AS $_$
DECLARE
    result_row pgmq.metrics_result;
    query TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
    q_default_partition TEXT := qtable || '_default';
    a_default_partition TEXT := pgmq.format_table_name(queue_name, 'a') || '_default';
    default_partition_length BIGINT;
BEGIN
    -- Only partitioned queues have default partitions. Messages in them have no
    -- partition of their own, which means pg_partman maintenance is failing for
    -- this queue; a non-zero value here is the signal to act on. The planner's
    -- estimate is used so that a large spill does not slow down every scrape.
    IF to_regclass(FORMAT('pgmq.%I', q_default_partition)) IS NOT NULL THEN
        SELECT COALESCE(SUM(GREATEST(c.reltuples, 0))::bigint, 0)
        INTO default_partition_length
        FROM pg_class c
        WHERE c.oid IN (
            to_regclass(FORMAT('pgmq.%I', q_default_partition)),
            to_regclass(FORMAT('pgmq.%I', a_default_partition))
        );
    END IF;

    query := FORMAT(
        $QUERY$
        WITH q_summary AS (
            SELECT
                count(*) as queue_length,
                count(CASE WHEN vt <= NOW() THEN 1 END) as queue_visible_length,
                EXTRACT(epoch FROM (NOW() - max(enqueued_at)))::int as newest_msg_age_sec,
                EXTRACT(epoch FROM (NOW() - min(enqueued_at)))::int as oldest_msg_age_sec,
                NOW() as scrape_time
            FROM pgmq.%I
        ),
        all_metrics AS (
            SELECT CASE
                WHEN is_called THEN last_value ELSE 0
                END as total_messages
            FROM pgmq.%I
        )
        SELECT
            %L as queue_name,
            q_summary.queue_length,
            q_summary.newest_msg_age_sec,
            q_summary.oldest_msg_age_sec,
            all_metrics.total_messages,
            q_summary.scrape_time,
            q_summary.queue_visible_length,
            %L::bigint as default_partition_length
        FROM q_summary, all_metrics
        $QUERY$,
        qtable, qtable || '_msg_id_seq', queue_name, default_partition_length
    );
    EXECUTE query INTO result_row;
    RETURN result_row;
END;
$_$;


--
-- Name: metrics_all(); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.metrics_all() RETURNS SETOF pgmq.metrics_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    row_name RECORD;
    result_row pgmq.metrics_result;
BEGIN
    FOR row_name IN SELECT queue_name FROM pgmq.meta LOOP
        result_row := pgmq.metrics(row_name.queue_name);
        RETURN NEXT result_row;
    END LOOP;
END;
$$;


--
-- Name: notify_queue_listeners(); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.notify_queue_listeners() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
  queue_name_extracted TEXT; -- Queue name extracted from trigger table name
  updated_count        INTEGER; -- Number of rows updated (0 or 1)
BEGIN
  queue_name_extracted := substring(TG_TABLE_NAME from 3);

  UPDATE pgmq.notify_insert_throttle
  SET last_notified_at = clock_timestamp()
  WHERE queue_name = queue_name_extracted
    AND (
      throttle_interval_ms = 0 -- No throttling configured
          OR clock_timestamp() - last_notified_at >=
             (throttle_interval_ms * INTERVAL '1 millisecond') -- Throttle interval has elapsed
    );

  -- Check how many rows were updated (will be 0 or 1)
  GET DIAGNOSTICS updated_count = ROW_COUNT;

  IF updated_count > 0 THEN
    PERFORM PG_NOTIFY('pgmq.' || TG_TABLE_NAME || '.' || TG_OP, NULL);
  END IF;

RETURN NEW;
END;
$$;


--
-- Name: pop(text, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.pop(queue_name text, qty integer DEFAULT 1) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    result pgmq.message_record;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
        $QUERY$
        WITH cte AS
            (
                SELECT msg_id
                FROM pgmq.%I
                WHERE vt <= clock_timestamp()
                ORDER BY msg_id ASC
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            )
        DELETE from pgmq.%I
        WHERE msg_id IN (select msg_id from cte)
        RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers;
        $QUERY$,
        qtable, qtable
    );
    RETURN QUERY EXECUTE sql USING qty;
END;
$_$;


--
-- Name: purge_queue(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.purge_queue(queue_name text) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
  deleted_count INTEGER;
  qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
  -- Get the row count before truncating
  EXECUTE format('SELECT count(*) FROM pgmq.%I', qtable) INTO deleted_count;

  -- Use TRUNCATE for better performance on large tables
  EXECUTE format('TRUNCATE TABLE pgmq.%I', qtable);

  -- Return the number of purged rows
  RETURN deleted_count;
END
$$;


--
-- Name: read(text, integer, integer, jsonb); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.read(queue_name text, vt integer, qty integer, conditional jsonb DEFAULT '{}'::jsonb) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
        $QUERY$
        WITH cte AS
        (
            SELECT msg_id
            FROM pgmq.%I
            WHERE vt <= clock_timestamp() AND CASE
                WHEN %L != '{}'::jsonb THEN (message @> %2$L)::integer
                ELSE 1
            END = 1
            ORDER BY msg_id ASC
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE pgmq.%I m
        SET
            last_read_at = clock_timestamp(),
            vt = clock_timestamp() + %L,
            read_ct = read_ct + 1
        FROM cte
        WHERE m.msg_id = cte.msg_id
        RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers;
        $QUERY$,
        qtable, conditional, qtable, make_interval(secs => vt)
    );
    RETURN QUERY EXECUTE sql USING qty;
END;
$_$;


--
-- Name: read_grouped(text, integer, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.read_grouped(queue_name text, vt integer, qty integer) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
        $QUERY$
        WITH fifo_groups AS (
            -- Find the minimum msg_id for each FIFO group that's ready to be processed
            SELECT
                COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') as fifo_key,
                MIN(msg_id) as min_msg_id
            FROM pgmq.%I
            WHERE vt <= clock_timestamp()
            GROUP BY COALESCE(headers->>'x-pgmq-group', '_default_fifo_group')
        ),
        locked_groups AS (
            -- Lock the first available message in each FIFO group
            SELECT
                m.msg_id,
                fg.fifo_key
            FROM pgmq.%I m
            INNER JOIN fifo_groups fg ON
                COALESCE(m.headers->>'x-pgmq-group', '_default_fifo_group') = fg.fifo_key
                AND m.msg_id = fg.min_msg_id
            WHERE m.vt <= clock_timestamp()
            ORDER BY m.msg_id ASC
            FOR UPDATE SKIP LOCKED
        ),
        group_priorities AS (
            -- Assign priority to groups based on their oldest message
            SELECT
                fifo_key,
                msg_id as min_msg_id,
                ROW_NUMBER() OVER (ORDER BY msg_id) as group_priority
            FROM locked_groups
        ),
        filtered_groups as (
            SELECT * FROM group_priorities gp
            WHERE NOT EXISTS (
                -- Ensure no earlier message in this group is currently being processed
                SELECT 1
                FROM pgmq.%I m2
                WHERE COALESCE(m2.headers->>'x-pgmq-group', '_default_fifo_group') = gp.fifo_key
                AND m2.vt > clock_timestamp()
                AND m2.msg_id < gp.min_msg_id
            )
        ),
        available_messages as (
            SELECT gp.fifo_key, t.msg_id,gp.group_priority,
                ROW_NUMBER() OVER (PARTITION BY gp.fifo_key ORDER BY t.msg_id) as msg_rank_in_group
            FROM filtered_groups gp
            CROSS JOIN LATERAL (
                SELECT *
                FROM pgmq.%I t
                WHERE COALESCE(t.headers->>'x-pgmq-group', '_default_fifo_group') = gp.fifo_key
                AND t.vt <= clock_timestamp()
                ORDER BY msg_id
                LIMIT $1  -- tip to limit query impact, we know we need at most qty in each group
            ) t
            ORDER BY gp.group_priority
        ),
        batch_selection AS (
            -- Select messages to fill batch, prioritizing earliest group
            SELECT
                msg_id,
                ROW_NUMBER() OVER (ORDER BY group_priority, msg_rank_in_group) as overall_rank
            FROM available_messages
        ),
        selected_messages AS (
            -- Limit to requested quantity
            SELECT msg_id
            FROM batch_selection
            WHERE overall_rank <= $1
            ORDER BY msg_id
            FOR UPDATE SKIP LOCKED
        )
        UPDATE pgmq.%I m
        SET
            vt = clock_timestamp() + %L,
            read_ct = read_ct + 1,
            last_read_at = clock_timestamp()
        FROM selected_messages sm
        WHERE m.msg_id = sm.msg_id
        RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers;
        $QUERY$,
        qtable, qtable, qtable, qtable, qtable, make_interval(secs => vt)
    );
    RETURN QUERY EXECUTE sql USING qty;
END;
$_$;


--
-- Name: read_grouped_head(text, integer, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.read_grouped_head(queue_name text, vt integer, qty integer) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
        $QUERY$
        WITH fifo_groups AS (
            -- Determine the absolute head (oldest) message id per FIFO group, regardless of visibility
            SELECT
                COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') AS fifo_key,
                MIN(msg_id) AS head_msg_id
            FROM pgmq.%1$I
            GROUP BY COALESCE(headers->>'x-pgmq-group', '_default_fifo_group')
        ),
        selected_messages AS (
            -- Take at most 1 message per group
            SELECT g.head_msg_id msg_id
            FROM fifo_groups g
            JOIN pgmq.%1$I q ON q.msg_id = g.head_msg_id
	        WHERE q.vt <= clock_timestamp()
            ORDER BY q.msg_id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE pgmq.%1$I m
        SET
            vt = clock_timestamp() + %2$L,
            read_ct = read_ct + 1,
            last_read_at = clock_timestamp()
        FROM selected_messages sm
        WHERE m.msg_id = sm.msg_id
        RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers;
        $QUERY$,
        qtable, make_interval(secs => vt)
    );
    RETURN QUERY EXECUTE sql USING qty;
END;
$_$;


--
-- Name: read_grouped_head_with_poll(text, integer, integer, integer, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.read_grouped_head_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $$
DECLARE
    r pgmq.message_record;
    stop_at TIMESTAMPTZ;
BEGIN
    stop_at := clock_timestamp() + make_interval(secs => max_poll_seconds);
    LOOP
      IF clock_timestamp() >= stop_at THEN
        RETURN;
      END IF;

      FOR r IN
        SELECT * FROM pgmq.read_grouped_head(queue_name, vt, qty)
      LOOP
        RETURN NEXT r;
      END LOOP;
      IF FOUND THEN
        RETURN;
      ELSE
        PERFORM pg_sleep(poll_interval_ms::numeric / 1000);
      END IF;
    END LOOP;
END;
$$;


--
-- Name: read_grouped_rr(text, integer, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.read_grouped_rr(queue_name text, vt integer, qty integer) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
        $QUERY$
        WITH fifo_groups AS (
            -- Determine the absolute head (oldest) message id per FIFO group, regardless of visibility
            SELECT
                COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') AS fifo_key,
                MIN(msg_id) AS head_msg_id
            FROM pgmq.%1$I
            GROUP BY COALESCE(headers->>'x-pgmq-group', '_default_fifo_group')
        ),
        eligible_groups AS (
            -- Only groups whose head message is currently visible
            -- Acquire a transaction-level advisory lock per group to prevent concurrent selection
            SELECT
                g.fifo_key,
                g.head_msg_id,
                ROW_NUMBER() OVER (ORDER BY g.head_msg_id) AS group_priority
            FROM fifo_groups g
            JOIN pgmq.%2$I h ON h.msg_id = g.head_msg_id
            WHERE h.vt <= clock_timestamp()
              AND pg_try_advisory_xact_lock(pg_catalog.hashtextextended(g.fifo_key, 0))
        ),
        available_messages AS (
            -- All currently visible messages starting at the head for each eligible group
            SELECT
                m.msg_id,
                eg.group_priority,
                ROW_NUMBER() OVER (
                    PARTITION BY eg.fifo_key
                    ORDER BY m.msg_id
                ) AS msg_rank_in_group
            FROM pgmq.%3$I m
            JOIN eligible_groups eg
              ON COALESCE(m.headers->>'x-pgmq-group', '_default_fifo_group') = eg.fifo_key
            WHERE m.vt <= clock_timestamp()
              AND m.msg_id >= eg.head_msg_id
        ),
        ordered_messages AS (
            -- Layered round-robin: take rank 1 of all groups by group_priority, then rank 2, etc.
            -- Assign selection order before locking
            SELECT msg_id, ROW_NUMBER() OVER (ORDER BY msg_rank_in_group, group_priority) as selection_order
            FROM available_messages
        ),
        selected_messages AS (
            -- Lock the messages in the correct order, preserving selection_order
            SELECT om.msg_id, om.selection_order
            FROM ordered_messages om
            JOIN pgmq.%4$I m ON m.msg_id = om.msg_id
            WHERE om.selection_order <= $1
            ORDER BY om.selection_order
            FOR UPDATE OF m SKIP LOCKED
        ),
        updated_messages AS (
            UPDATE pgmq.%5$I m
            SET
                vt = clock_timestamp() + %6$L,
                read_ct = read_ct + 1,
                last_read_at = clock_timestamp()
            FROM selected_messages sm
            WHERE m.msg_id = sm.msg_id
              AND m.vt <= clock_timestamp() -- final guard to avoid duplicate reads under races
            RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers, sm.selection_order
        )
        SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers
        FROM updated_messages
        ORDER BY selection_order;
        $QUERY$,
        qtable, qtable, qtable, qtable, qtable, make_interval(secs => vt)
    );
    RETURN QUERY EXECUTE sql USING qty;
END;
$_$;


--
-- Name: read_grouped_rr_with_poll(text, integer, integer, integer, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.read_grouped_rr_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $$
DECLARE
    r pgmq.message_record;
    stop_at TIMESTAMP;
BEGIN
    stop_at := clock_timestamp() + make_interval(secs => max_poll_seconds);
    LOOP
      IF (SELECT clock_timestamp() >= stop_at) THEN
        RETURN;
      END IF;

      FOR r IN
        SELECT * FROM pgmq.read_grouped_rr(queue_name, vt, qty)
      LOOP
        RETURN NEXT r;
      END LOOP;
      IF FOUND THEN
        RETURN;
      ELSE
        PERFORM pg_sleep(poll_interval_ms::numeric / 1000);
      END IF;
    END LOOP;
END;
$$;


--
-- Name: read_grouped_with_poll(text, integer, integer, integer, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.read_grouped_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $$
DECLARE
    r pgmq.message_record;
    stop_at TIMESTAMP;
BEGIN
    stop_at := clock_timestamp() + make_interval(secs => max_poll_seconds);
    LOOP
      IF (SELECT clock_timestamp() >= stop_at) THEN
        RETURN;
      END IF;

      FOR r IN
        SELECT * FROM pgmq.read_grouped(queue_name, vt, qty)
      LOOP
        RETURN NEXT r;
      END LOOP;
      IF FOUND THEN
        RETURN;
      ELSE
        PERFORM pg_sleep(poll_interval_ms::numeric / 1000);
      END IF;
    END LOOP;
END;
$$;


--
-- Name: read_with_poll(text, integer, integer, integer, integer, jsonb); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.read_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100, conditional jsonb DEFAULT '{}'::jsonb) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $_$
DECLARE
    r pgmq.message_record;
    stop_at TIMESTAMP;
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    stop_at := clock_timestamp() + make_interval(secs => max_poll_seconds);
    LOOP
      IF (SELECT clock_timestamp() >= stop_at) THEN
        RETURN;
      END IF;

      sql := FORMAT(
          $QUERY$
          WITH cte AS
          (
              SELECT msg_id
              FROM pgmq.%I
              WHERE vt <= clock_timestamp() AND CASE
                  WHEN %L != '{}'::jsonb THEN (message @> %2$L)::integer
                  ELSE 1
              END = 1
              ORDER BY msg_id ASC
              LIMIT $1
              FOR UPDATE SKIP LOCKED
          )
          UPDATE pgmq.%I m
          SET
              last_read_at = clock_timestamp(),
              vt = clock_timestamp() + %L,
              read_ct = read_ct + 1
          FROM cte
          WHERE m.msg_id = cte.msg_id
          RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers;
          $QUERY$,
          qtable, conditional, qtable, make_interval(secs => vt)
      );

      FOR r IN
        EXECUTE sql USING qty
      LOOP
        RETURN NEXT r;
      END LOOP;
      IF FOUND THEN
        RETURN;
      ELSE
        PERFORM pg_sleep(poll_interval_ms::numeric / 1000);
      END IF;
    END LOOP;
END;
$_$;


--
-- Name: send(text, jsonb); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send(queue_name, msg, NULL, clock_timestamp());
$$;


--
-- Name: send(text, jsonb, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, delay integer) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send(queue_name, msg, NULL, clock_timestamp() + make_interval(secs => delay));
$$;


--
-- Name: send(text, jsonb, jsonb); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send(queue_name, msg, headers, clock_timestamp());
$$;


--
-- Name: send(text, jsonb, timestamp with time zone); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, delay timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send(queue_name, msg, NULL, delay);
$$;


--
-- Name: send(text, jsonb, jsonb, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb, delay integer) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send(queue_name, msg, headers, clock_timestamp() + make_interval(secs => delay));
$$;


--
-- Name: send(text, jsonb, jsonb, timestamp with time zone); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb, delay timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
            $QUERY$
        INSERT INTO pgmq.%I (vt, message, headers)
        VALUES ($2, $1, $3)
        RETURNING msg_id;
        $QUERY$,
            qtable
           );
    RETURN QUERY EXECUTE sql USING msg, delay, headers;
END;
$_$;


--
-- Name: send_batch(text, jsonb[]); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[]) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, NULL, clock_timestamp());
$$;


--
-- Name: send_batch(text, jsonb[], jsonb[]); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[]) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, headers, clock_timestamp());
$$;


--
-- Name: send_batch(text, jsonb[], integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay integer) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, NULL, clock_timestamp() + make_interval(secs => delay));
$$;


--
-- Name: send_batch(text, jsonb[], timestamp with time zone); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, NULL, delay);
$$;


--
-- Name: send_batch(text, jsonb[], jsonb[], integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay integer) RETURNS SETOF bigint
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, headers, clock_timestamp() + make_interval(secs => delay));
$$;


--
-- Name: send_batch(text, jsonb[], jsonb[], timestamp with time zone); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pgmq._validate_batch_params(msgs, headers);
    RETURN QUERY SELECT * FROM pgmq._send_batch(queue_name, msgs, headers, delay);
END;
$$;


--
-- Name: send_batch_topic(text, jsonb[]); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[]) RETURNS TABLE(queue_name text, msg_id bigint)
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, NULL, clock_timestamp());
$$;


--
-- Name: send_batch_topic(text, jsonb[], jsonb[]); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], headers jsonb[]) RETURNS TABLE(queue_name text, msg_id bigint)
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, headers, clock_timestamp());
$$;


--
-- Name: send_batch_topic(text, jsonb[], integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], delay integer) RETURNS TABLE(queue_name text, msg_id bigint)
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, NULL, clock_timestamp() + make_interval(secs => delay));
$$;


--
-- Name: send_batch_topic(text, jsonb[], timestamp with time zone); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], delay timestamp with time zone) RETURNS TABLE(queue_name text, msg_id bigint)
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, NULL, delay);
$$;


--
-- Name: send_batch_topic(text, jsonb[], jsonb[], integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], headers jsonb[], delay integer) RETURNS TABLE(queue_name text, msg_id bigint)
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, headers, clock_timestamp() + make_interval(secs => delay));
$$;


--
-- Name: send_batch_topic(text, jsonb[], jsonb[], timestamp with time zone); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], headers jsonb[], delay timestamp with time zone) RETURNS TABLE(queue_name text, msg_id bigint)
    LANGUAGE plpgsql
    AS $$
DECLARE
    b RECORD;
BEGIN
    PERFORM pgmq.validate_routing_key(routing_key);

    -- Validate batch parameters once (not per queue)
    PERFORM pgmq._validate_batch_params(msgs, headers);

    -- Filter matching patterns in SQL for better performance (uses index)
    -- Any failure will rollback the entire transaction
    FOR b IN
        SELECT DISTINCT tb.queue_name
        FROM pgmq.topic_bindings tb
        WHERE routing_key ~ tb.compiled_regex
        ORDER BY tb.queue_name -- Deterministic ordering, deduplicated by queue_name
        LOOP
            -- Use private _send_batch to avoid redundant validation
            RETURN QUERY
            SELECT b.queue_name, batch_result.msg_id
            FROM pgmq._send_batch(b.queue_name, msgs, headers, delay) AS batch_result(msg_id);
        END LOOP;

    RETURN;
END;
$$;


--
-- Name: send_topic(text, jsonb); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_topic(routing_key text, msg jsonb) RETURNS integer
    LANGUAGE plpgsql
    AS $$
BEGIN
    RETURN pgmq.send_topic(routing_key, msg, NULL, 0);
END;
$$;


--
-- Name: send_topic(text, jsonb, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_topic(routing_key text, msg jsonb, delay integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
BEGIN
    RETURN pgmq.send_topic(routing_key, msg, NULL, delay);
END;
$$;


--
-- Name: send_topic(text, jsonb, jsonb, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.send_topic(routing_key text, msg jsonb, headers jsonb, delay integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    b             RECORD;
    matched_count integer := 0;
BEGIN
    PERFORM pgmq.validate_routing_key(routing_key);

    IF msg IS NULL THEN
        RAISE EXCEPTION 'msg cannot be NULL';
    END IF;

    IF delay < 0 THEN
        RAISE EXCEPTION 'delay cannot be negative, got: %', delay;
    END IF;

    -- Filter matching patterns in SQL for better performance (uses index)
    -- Any failure will rollback the entire transaction
    FOR b IN
        SELECT DISTINCT tb.queue_name
        FROM pgmq.topic_bindings tb
        WHERE routing_key ~ tb.compiled_regex
        ORDER BY tb.queue_name -- Deterministic ordering, deduplicated by queue_name
        LOOP
            PERFORM pgmq.send(b.queue_name, msg, headers, delay);
            matched_count := matched_count + 1;
        END LOOP;

    RETURN matched_count;
END;
$$;


--
-- Name: set_vt(text, bigint[], integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.set_vt(queue_name text, msg_ids bigint[], vt integer) RETURNS SETOF pgmq.message_record
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.set_vt(queue_name, msg_ids, clock_timestamp() + make_interval(secs => vt));
$$;


--
-- Name: set_vt(text, bigint[], timestamp with time zone); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.set_vt(queue_name text, msg_ids bigint[], vt timestamp with time zone) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
        $QUERY$
        UPDATE pgmq.%I
        SET vt = $1
        WHERE msg_id = ANY($2)
        RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers;
        $QUERY$,
        qtable
    );
    RETURN QUERY EXECUTE sql USING vt, msg_ids;
END;
$_$;


--
-- Name: set_vt(text, bigint, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.set_vt(queue_name text, msg_id bigint, vt integer) RETURNS SETOF pgmq.message_record
    LANGUAGE sql
    AS $$
    SELECT * FROM pgmq.set_vt(queue_name, msg_id, clock_timestamp() + make_interval(secs => vt));
$$;


--
-- Name: set_vt(text, bigint, timestamp with time zone); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.set_vt(queue_name text, msg_id bigint, vt timestamp with time zone) RETURNS SETOF pgmq.message_record
    LANGUAGE plpgsql
    AS $_$
DECLARE
    sql TEXT;
    result pgmq.message_record;
    qtable TEXT := pgmq.format_table_name(queue_name, 'q');
BEGIN
    sql := FORMAT(
        $QUERY$
        UPDATE pgmq.%I
        SET vt = $1
        WHERE msg_id = $2
        RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers;
        $QUERY$,
        qtable
    );
    RETURN QUERY EXECUTE sql USING vt, msg_id;
END;
$_$;


--
-- Name: test_routing(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.test_routing(routing_key text) RETURNS TABLE(pattern text, queue_name text, compiled_regex text)
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    PERFORM pgmq.validate_routing_key(routing_key);
    RETURN QUERY
        SELECT b.pattern,
               b.queue_name,
               b.compiled_regex
        FROM pgmq.topic_bindings b
        WHERE routing_key ~ b.compiled_regex
        ORDER BY b.pattern;
END;
$$;


--
-- Name: unbind_topic(text, text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.unbind_topic(pattern text, queue_name text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    rows_deleted integer;
BEGIN
    IF pattern IS NULL OR pattern = '' THEN
        RAISE EXCEPTION 'pattern cannot be NULL or empty';
    END IF;

    IF queue_name IS NULL OR queue_name = '' THEN
        RAISE EXCEPTION 'queue_name cannot be NULL or empty';
    END IF;

    DELETE
    FROM pgmq.topic_bindings
    WHERE topic_bindings.pattern = unbind_topic.pattern
      AND topic_bindings.queue_name = unbind_topic.queue_name;

    GET DIAGNOSTICS rows_deleted = ROW_COUNT;

    IF rows_deleted > 0 THEN
        RETURN true;
    ELSE
        RETURN false;
    END IF;
END;
$$;


--
-- Name: update_notify_insert(text, integer); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.update_notify_insert(queue_name text, throttle_interval_ms integer) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF throttle_interval_ms < 0 THEN
        RAISE EXCEPTION 'throttle_interval_ms must be non-negative, got: %', throttle_interval_ms;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE meta.queue_name = update_notify_insert.queue_name) THEN
        RAISE EXCEPTION 'Queue "%" does not exist. Create the queue first using pgmq.create()', queue_name;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pgmq.notify_insert_throttle WHERE notify_insert_throttle.queue_name = update_notify_insert.queue_name) THEN
        RAISE EXCEPTION 'Queue "%" does not have notify_insert enabled. Enable it first using pgmq.enable_notify_insert()', queue_name;
    END IF;

    UPDATE pgmq.notify_insert_throttle
    SET throttle_interval_ms = update_notify_insert.throttle_interval_ms,
        last_notified_at = to_timestamp(0)
    WHERE notify_insert_throttle.queue_name = update_notify_insert.queue_name;
END;
$$;


--
-- Name: validate_queue_name(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.validate_queue_name(queue_name text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF length(queue_name) > 47 THEN
    -- complete table identifier must be <= 63
    -- https://www.postgresql.org/docs/17/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS
    -- e.g. template_pgmq_q_my_queue is an identifier for my_queue when partitioned
    -- template_pgmq_q_ (16) + <a max length queue name> (47) = 63
    RAISE EXCEPTION 'queue name is too long, maximum length is 47 characters';
  END IF;
END;
$$;


--
-- Name: validate_routing_key(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.validate_routing_key(routing_key text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE
    AS $_$
BEGIN
    -- Valid routing key examples:
    --   "logs.error"
    --   "app.user-service.auth"
    --   "system_events.db.connection_failed"
    --
    -- Invalid routing key examples:
    --   ""                     - empty
    --   ".logs.error"          - starts with dot
    --   "logs.error."          - ends with dot
    --   "logs..error"          - consecutive dots
    --   "logs.error!"          - invalid character
    --   "logs error"           - space not allowed
    --   "logs.*"               - wildcards not allowed in routing keys

    IF routing_key IS NULL OR routing_key = '' THEN
        RAISE EXCEPTION 'routing_key cannot be NULL or empty';
    END IF;

    IF length(routing_key) > 255 THEN
        RAISE EXCEPTION 'routing_key length cannot exceed 255 characters, got % characters', length(routing_key);
    END IF;

    IF routing_key !~ '^[a-zA-Z0-9._-]+$' THEN
        RAISE EXCEPTION 'routing_key contains invalid characters. Only alphanumeric, dots, hyphens, and underscores are allowed. Got: %', routing_key;
    END IF;

    IF routing_key ~ '^\.' THEN
        RAISE EXCEPTION 'routing_key cannot start with a dot. Got: %', routing_key;
    END IF;

    IF routing_key ~ '\.$' THEN
        RAISE EXCEPTION 'routing_key cannot end with a dot. Got: %', routing_key;
    END IF;

    IF routing_key ~ '\.\.' THEN
        RAISE EXCEPTION 'routing_key cannot contain consecutive dots. Got: %', routing_key;
    END IF;

    RETURN true;
END;
$_$;


--
-- Name: validate_topic_pattern(text); Type: FUNCTION; Schema: pgmq; Owner: -
--

CREATE FUNCTION pgmq.validate_topic_pattern(pattern text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE
    AS $_$
BEGIN
    -- Valid pattern examples:
    --   "logs.*"           - matches one segment after logs. (e.g., logs.error, logs.info)
    --   "logs.#"           - matches one or more segments after logs. (e.g., logs.error, logs.api.error)
    --   "*.error"          - matches one segment before .error (e.g., app.error, db.error)
    --   "#.error"          - matches one or more segments before .error (e.g., app.error, x.y.error)
    --   "app.*.#"          - mixed wildcards (one segment then one or more)
    --   "#"                - catch-all pattern, matches any routing key
    --
    -- Invalid pattern examples:
    --   ".logs.*"          - starts with dot
    --   "logs.*."          - ends with dot
    --   "logs..error"      - consecutive dots
    --   "logs.**"          - consecutive stars
    --   "logs.##"          - consecutive hashes
    --   "logs.*#"          - adjacent wildcards
    --   "logs.error!"      - invalid character

    IF pattern IS NULL OR pattern = '' THEN
        RAISE EXCEPTION 'pattern cannot be NULL or empty';
    END IF;

    IF length(pattern) > 255 THEN
        RAISE EXCEPTION 'pattern length cannot exceed 255 characters, got % characters', length(pattern);
    END IF;

    IF pattern !~ '^[a-zA-Z0-9._\-*#]+$' THEN
        RAISE EXCEPTION 'pattern contains invalid characters. Only alphanumeric, dots, hyphens, underscores, *, and # are allowed. Got: %', pattern;
    END IF;

    IF pattern ~ '^\.' THEN
        RAISE EXCEPTION 'pattern cannot start with a dot. Got: %', pattern;
    END IF;

    IF pattern ~ '\.$' THEN
        RAISE EXCEPTION 'pattern cannot end with a dot. Got: %', pattern;
    END IF;

    IF pattern ~ '\.\.' THEN
        RAISE EXCEPTION 'pattern cannot contain consecutive dots. Got: %', pattern;
    END IF;

    IF pattern ~ '\*\*' THEN
        RAISE EXCEPTION 'pattern cannot contain consecutive stars (**). Use # for multi-segment matching. Got: %', pattern;
    END IF;

    IF pattern ~ '##' THEN
        RAISE EXCEPTION 'pattern cannot contain consecutive hashes (##). A single # already matches zero or more segments. Got: %', pattern;
    END IF;

    IF pattern ~ '\*#' OR pattern ~ '#\*' THEN
        RAISE EXCEPTION 'pattern cannot contain adjacent wildcards (*# or #*). Separate wildcards with dots. Got: %', pattern;
    END IF;

    RETURN true;
END;
$_$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: person_activity_settled; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.person_activity_settled (
    person_id uuid NOT NULL,
    product_id text NOT NULL,
    day date NOT NULL,
    first_at timestamp with time zone NOT NULL,
    last_at timestamp with time zone NOT NULL,
    events integer NOT NULL,
    usage integer NOT NULL,
    pricing_views integer NOT NULL,
    first_activation_at timestamp with time zone,
    payments integer NOT NULL,
    last_payment_at timestamp with time zone,
    plan text,
    mrr numeric(14,2),
    last_cancel_at timestamp with time zone,
    event_counts jsonb NOT NULL,
    first_payment_at timestamp with time zone,
    last_usage_at timestamp with time zone
);


--
-- Name: TABLE person_activity_settled; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.person_activity_settled IS 'Per person, product and UTC day, for the days before the current one (settled from shared.person_activity_recent by the first evaluation of each day). Read shared.person_activity_daily for every day.';


--
-- Name: _activity_day_merged(shared.person_activity_settled, shared.person_activity_settled); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._activity_day_merged(a shared.person_activity_settled, b shared.person_activity_settled) RETURNS shared.person_activity_settled
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT a.person_id, a.product_id, a.day, least(a.first_at, b.first_at),
           greatest(a.last_at, b.last_at), a.events + b.events, a.usage + b.usage,
           a.pricing_views + b.pricing_views, least(a.first_activation_at, b.first_activation_at),
           a.payments + b.payments, greatest(a.last_payment_at, b.last_payment_at),
           shared._latest_payment_value(a.last_payment_at, a.plan, b.last_payment_at, b.plan),
           shared._latest_payment_value(a.last_payment_at, a.mrr, b.last_payment_at, b.mrr),
           greatest(a.last_cancel_at, b.last_cancel_at),
           shared._jsonb_sum_counts(a.event_counts, b.event_counts),
           least(shared._day_first_payment_at(a.first_payment_at, a.last_payment_at),
                 b.first_payment_at),
           greatest(shared._day_last_usage_at(a.last_usage_at, a.usage, a.last_at),
                    b.last_usage_at)
$$;


--
-- Name: _all_sha256_hex(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._all_sha256_hex(p_values jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT jsonb_array_length(p_values) > 0 AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_values) AS v(item)
        WHERE jsonb_typeof(v.item) <> 'string' OR NOT shared._is_sha256_hex(v.item #>> '{}'))
$$;


--
-- Name: _audience_checked_from(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._audience_checked_from() RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT CASE
        WHEN pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
        THEN least(now(), (SELECT min(a.xact_start) FROM pg_catalog.pg_stat_activity AS a
                           WHERE a.datname = pg_catalog.current_database()
                             AND a.backend_type = 'client backend'))
             - interval '1 second'
        ELSE now() - interval '10 minutes' END
$$;


--
-- Name: _audience_count_response(bigint, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._audience_count_response(p_run_id bigint, p_response jsonb) RETURNS void
    LANGUAGE sql
    SET search_path TO ''
    AS $$
    UPDATE shared.audience_sync_run AS r
    SET requests = r.requests + 1,
        num_received = r.num_received + coalesce((p_response ->> 'num_received_delta')::bigint, 0),
        num_invalid_entries = r.num_invalid_entries
                              + coalesce((p_response ->> 'num_invalid_entries')::bigint, 0),
        invalid_entry_samples = CASE
            WHEN (SELECT count(*) FROM jsonb_object_keys(r.invalid_entry_samples)) >= 100
                THEN r.invalid_entry_samples
            ELSE (SELECT coalesce(jsonb_object_agg(s.key, s.value), '{}'::jsonb)
                  FROM (SELECT e.key, e.value
                        FROM jsonb_each(r.invalid_entry_samples
                                        || coalesce(p_response -> 'invalid_entry_samples',
                                                    '{}'::jsonb)) AS e
                        ORDER BY e.key LIMIT 100) AS s)
            END
    WHERE r.id = p_run_id
$$;


--
-- Name: _audience_member_count(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._audience_member_count(p_segment_id text) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT (SELECT count(*) FROM shared.segment_member AS m WHERE m.segment_id = p_segment_id)
         - (SELECT count(*) FROM shared.person AS w
            JOIN shared.segment_member AS m ON m.segment_id = p_segment_id AND m.person_id = w.id
            WHERE w.consent_status = 'withdrawn')
$$;


--
-- Name: _audience_person_erased(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._audience_person_erased() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
    INSERT INTO shared.audience_erased (segment_id, person_id)
    SELECT k.segment_id, k.person_id
    FROM old_people AS o
    CROSS JOIN shared.meta_audience AS a
    JOIN shared.audience_ack AS k ON k.segment_id = a.segment_id AND k.person_id = o.id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;


--
-- Name: _conversion_rule_applies(text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._conversion_rule_applies(p_product_id text, p_event_name text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
    SELECT shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') AND EXISTS (
        SELECT 1 FROM shared.applicable_conversion_rule AS r
        WHERE r.product_id = p_product_id AND r.event_name = p_event_name)
$$;


--
-- Name: _counts_as_usage(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._counts_as_usage(p_kind text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT p_kind IS NULL OR p_kind NOT IN ('page_view', 'pricing_view') $$;


--
-- Name: _day_first_payment_at(timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._day_first_payment_at(p_first_payment_at timestamp with time zone, p_last_payment_at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(p_first_payment_at, p_last_payment_at) $$;


--
-- Name: _day_last_usage_at(timestamp with time zone, integer, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._day_last_usage_at(p_last_usage_at timestamp with time zone, p_usage integer, p_last_at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(p_last_usage_at, CASE WHEN p_usage > 0 THEN p_last_at END) $$;


--
-- Name: _erase_by_meta_hash(text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._erase_by_meta_hash(p_email_sha256 text, p_phone_sha256 text) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_events bigint;
BEGIN
    DELETE FROM shared.event AS e
    WHERE e.meta_user_data <> '{}'::jsonb
      AND (e.meta_user_data -> 'em' @> to_jsonb(p_email_sha256)
           OR (p_phone_sha256 IS NOT NULL AND e.meta_user_data -> 'ph' @> to_jsonb(p_phone_sha256)));
    GET DIAGNOSTICS v_events = ROW_COUNT;
    RETURN v_events;
END
$$;


--
-- Name: _event_check_properties(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._event_check_properties() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_bytes bigint;
    v_text text;
    v_bad record;
BEGIN
    -- gdp serve (gdp_api) checked these with the same rule (edge_compat/validation.py) before
    -- calling ingest_events; checking again would only cost its ingest rate.
    IF current_setting('role', true) = 'gdp_api' THEN
        RETURN NULL;
    END IF;
    -- Stored size bounds the joined text (a few times it at most for uncompressed jsonb): joined
    -- up to 8 MB, so a bulk load of millions of rows never builds a string near the 1 GB limit.
    SELECT sum(pg_column_size(n.properties)) INTO v_bytes FROM new_events AS n;
    IF v_bytes <= 8 * 1024 * 1024 THEN
        SELECT string_agg(n.properties::text, E'\n') INTO v_text
        FROM new_events AS n
        WHERE n.properties <> '{}'::jsonb;
        IF v_text IS NULL OR v_text !~* shared._pii_properties_text_pattern() THEN
            RETURN NULL;
        END IF;
    END IF;
    WITH folded AS MATERIALIZED (
        SELECT n.event_id, n.properties, translate(lower(n.properties::text), ' _-.', '') AS t
        FROM new_events AS n
        WHERE n.properties <> '{}'::jsonb
    ), suspect AS (
        SELECT f.event_id, f.properties FROM folded AS f
        WHERE strpos(f.t, '@') > 0 OR strpos(f.t, '%40') > 0 OR strpos(f.t, chr(92)) > 0
           OR strpos(f.t, 'mail') > 0 OR strpos(f.t, 'phone') > 0 OR strpos(f.t, 'name') > 0
           OR strpos(f.t, 'address') > 0 OR strpos(f.t, 'mobile') > 0
           OR strpos(f.t, 'street') > 0 OR strpos(f.t, 'birth') > 0 OR strpos(f.t, 'ssn') > 0
           OR strpos(f.t, 'social') > 0 OR strpos(f.t, '"em":') > 0 OR strpos(f.t, '"ph":') > 0
           OR strpos(f.t, '"fn":') > 0 OR strpos(f.t, '"ln":') > 0 OR strpos(f.t, '"tel":') > 0
           OR strpos(f.t, '"dob":') > 0
    )
    SELECT s.event_id, p.problem INTO v_bad
    FROM suspect AS s
    CROSS JOIN LATERAL (SELECT shared._properties_pii_problem(s.properties) AS problem) AS p
    WHERE p.problem IS NOT NULL
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'properties',
            format('%s (event %s)', v_bad.problem, v_bad.event_id));
    END IF;
    RETURN NULL;
END
$$;


--
-- Name: _event_check_references(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._event_check_references() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_bad record;
    v_people uuid[];
BEGIN
    SELECT n.product_id INTO v_bad FROM new_events AS n
    WHERE NOT EXISTS (SELECT 1 FROM shared.product AS p WHERE p.product_id = n.product_id)
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'product_id',
            format('%s is not a known product', v_bad.product_id));
    END IF;
    -- The people, locked until commit as a foreign key would (shared._lock_people).
    v_people := shared._lock_people(ARRAY(
        SELECT DISTINCT n.person_id FROM new_events AS n WHERE n.person_id IS NOT NULL));
    SELECT n.person_id, n.event_id INTO v_bad FROM new_events AS n
    WHERE n.person_id IS NOT NULL AND n.person_id <> ALL (v_people)
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'person_id',
            format('no person %s (event %s)', v_bad.person_id, v_bad.event_id));
    END IF;
    -- The limits every path shares (shared._event_row_problem, inlined: a few comparisons).
    SELECT x.problem INTO v_bad FROM new_events AS n
    CROSS JOIN LATERAL (SELECT shared._event_row_problem(n.event_id, n.occurred_at,
        n.event_source_url, n.client_user_agent, n.properties) AS problem) AS x
    WHERE x.problem IS NOT NULL
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', v_bad.problem[1], v_bad.problem[2]);
    END IF;
    -- One pass over every entry of every row (a function call per row cost ~7 us an event).
    SELECT n.event_id, n.meta_user_data INTO v_bad
    FROM new_events AS n
    CROSS JOIN LATERAL jsonb_each(n.meta_user_data) AS f
    WHERE n.meta_user_data <> '{}'::jsonb
      AND NOT shared._meta_user_data_entry_ok(f.key, f.value)
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'meta_user_data', format('%s (event %s)',
            shared._meta_user_data_problem(v_bad.meta_user_data), v_bad.event_id));
    END IF;
    RETURN NULL;
END
$$;


--
-- Name: _event_check_references_on_update(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._event_check_references_on_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_problem text;
BEGIN
    IF NEW.product_id IS DISTINCT FROM OLD.product_id
       AND NOT EXISTS (SELECT 1 FROM shared.product AS p WHERE p.product_id = NEW.product_id) THEN
        PERFORM shared._raise('GD400', 'product_id',
            format('%s is not a known product', NEW.product_id));
    END IF;
    IF NEW.person_id IS DISTINCT FROM OLD.person_id AND NEW.person_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM shared.person AS p WHERE p.id = NEW.person_id) THEN
        PERFORM shared._raise('GD400', 'person_id', format('no person %s', NEW.person_id));
    END IF;
    IF NEW.meta_user_data IS DISTINCT FROM OLD.meta_user_data THEN
        v_problem := shared._meta_user_data_problem(NEW.meta_user_data);
        IF v_problem IS NOT NULL THEN
            PERFORM shared._raise('GD400', 'meta_user_data',
                format('%s (event %s)', v_problem, NEW.event_id));
        END IF;
    END IF;
    RETURN NEW;
END
$$;


--
-- Name: _event_enqueue_for_meta(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._event_enqueue_for_meta() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_rules_on boolean;
    v_sent integer;
BEGIN
    -- GAP-001 is the door to Meta: with it off, events are stored and nothing is queued.
    IF NOT shared.is_enabled('META_CAPI_INGEST_ENABLED') THEN
        RETURN NULL;
    END IF;
    -- Events without an explicit Meta name go through the rules only when GAP-002 is on.
    v_rules_on := shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED');

    WITH decided AS (
        SELECT n.id,
               coalesce(n.meta_event_name, r.meta_event_name) AS meta_name,
               n.meta_event_name IS NULL AND coalesce(r.first_time_per_person, false)
                   AS first_time_only,
               n.person_id, n.event_name
        FROM new_events AS n
        LEFT JOIN shared.applicable_conversion_rule AS r
               ON v_rules_on AND n.meta_event_name IS NULL
              AND r.product_id = n.product_id AND r.event_name = n.event_name
    ), messages AS (
        SELECT array_agg(jsonb_build_object('event', d.id, 'meta_event_name', d.meta_name)
                         ORDER BY d.id) AS msgs
        FROM decided AS d
        -- First-time rules (first feature used) fire from the features, once per person:
        -- shared._fire_first_time_rules (db/functions/70_segments.sql).
        WHERE d.meta_name IS NOT NULL AND NOT d.first_time_only
    )
    SELECT count(*) INTO v_sent
    FROM messages AS m, LATERAL pgmq.send_batch('meta_capi', m.msgs) AS sent
    WHERE m.msgs IS NOT NULL;

    IF v_sent > 0 THEN
        -- Wakes idle workers at once (delivered on commit; one per transaction, not per row).
        PERFORM pg_notify('gdp_meta_capi', '');
    END IF;
    RETURN NULL;
END
$$;


--
-- Name: _event_features(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._event_features() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_msgs jsonb[];
    v_products text[];
    v_names text[];
    v_rules bigint[];
BEGIN
    -- One row per statement, whatever its size: the evaluation folds these events into the
    -- daily features (shared._fold_new_events), so the insert pays for one small row, not an
    -- upsert. A statement's ids are usually one unbroken run of the identity; then the first
    -- and last id name exactly its events (ids are unique), else the array of those with a
    -- person does (the fold skips events without one either way).
    INSERT INTO shared.segment_change_log (event_ids, event_id_first, event_id_last)
    SELECT CASE WHEN NOT s.run THEN s.ids END, CASE WHEN s.run THEN s.lo END,
           CASE WHEN s.run THEN s.hi END
    FROM (SELECT min(n.id) AS lo, max(n.id) AS hi, max(n.id) - min(n.id) + 1 = count(*) AS run,
                 array_agg(n.id) FILTER (WHERE n.person_id IS NOT NULL) AS ids
          FROM new_events AS n) AS s
    WHERE s.ids IS NOT NULL;

    -- The first-time rows of the PRD's trigger table (conversion rules with
    -- first_time_per_person, e.g. "first feature used" -> CompleteRegistration), fired from the
    -- features rather than from one event: for each person and rule, the statement's first
    -- matching event is sent when the person had no such event before, and
    -- shared.feature_trigger_fired's primary key makes it once per person even when two
    -- sessions insert at the same time (the second waits for the first's row, then finds it).
    IF shared.is_enabled('META_CAPI_INGEST_ENABLED')
       AND shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') THEN
        -- The rule that decides each (product, event name) (shared.applicable_conversion_rule,
        -- the one definition), where it is a first-time one: a handful, read once, so that the
        -- statement's rows are matched against a short list rather than sorted against the view.
        SELECT array_agg(r.product_id), array_agg(r.event_name), array_agg(r.rule_id)
        INTO v_products, v_names, v_rules
        FROM shared.applicable_conversion_rule AS r
        WHERE r.first_time_per_person;
        IF v_rules IS NULL THEN
            RETURN NULL;
        END IF;
        WITH matched AS (
            SELECT n.id, n.person_id, n.event_name, r.rule_id
            FROM new_events AS n
            JOIN unnest(v_products, v_names, v_rules) AS r(product_id, event_name, rule_id)
              ON r.product_id = n.product_id AND r.event_name = n.event_name
            WHERE n.meta_event_name IS NULL AND n.person_id IS NOT NULL
        ), firsts AS (
            SELECT DISTINCT ON (m.rule_id, m.person_id) m.rule_id, m.person_id, m.id, m.event_name
            FROM matched AS m
            ORDER BY m.rule_id, m.person_id, m.id
        ), fired AS (
            INSERT INTO shared.feature_trigger_fired (rule_id, person_id, event_ref, sent)
            SELECT f.rule_id, f.person_id, coalesce(seen_before.id, f.id), seen_before.id IS NULL
            FROM firsts AS f
            -- Probed per person through an index (LATERAL … LIMIT 1 is never turned into a hash
            -- join, which would read the whole ledger or event table for every statement): the
            -- ledger first; only a person not in it yet has their earlier events looked at: one
            -- whose events from before the ledger existed (or before the flag was on) include
            -- one is not new to it, and is recorded as such (not sent) so that this look
            -- happens once per person, not on every statement.
            LEFT JOIN LATERAL (SELECT 1 AS found FROM shared.feature_trigger_fired AS done
                               WHERE done.rule_id = f.rule_id AND done.person_id = f.person_id
                               LIMIT 1) AS fired_before ON true
            LEFT JOIN LATERAL (SELECT earlier.id FROM shared.event AS earlier
                               WHERE fired_before.found IS NULL
                                 AND earlier.person_id = f.person_id
                                 AND earlier.event_name = f.event_name AND earlier.id < f.id
                               LIMIT 1) AS seen_before ON true
            WHERE fired_before.found IS NULL
            ORDER BY f.rule_id, f.person_id
            ON CONFLICT (rule_id, person_id) DO NOTHING
            RETURNING rule_id, event_ref, sent
        )
        SELECT array_agg(jsonb_build_object('event', fd.event_ref, 'meta_event_name', r.meta_event_name)
                         ORDER BY fd.event_ref)
        INTO v_msgs
        FROM fired AS fd JOIN shared.conversion_rule AS r ON r.rule_id = fd.rule_id
        WHERE fd.sent;

        IF v_msgs IS NOT NULL THEN
            PERFORM pgmq.send_batch('meta_capi', v_msgs);
            PERFORM pg_notify('gdp_meta_capi', '');
        END IF;
    END IF;
    RETURN NULL;
END
$$;


--
-- Name: _event_row_problem(text, timestamp with time zone, text, text, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._event_row_problem(p_event_id text, p_occurred_at timestamp with time zone, p_event_source_url text, p_client_user_agent text, p_properties jsonb) RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $_$
    SELECT CASE
        -- One scan for control characters in the three texts (rarely true; then which one).
        WHEN concat(p_event_id, p_event_source_url, p_client_user_agent) ~ '[\x01-\x1f\x7f]'
            THEN CASE
                WHEN p_event_id ~ '[\x01-\x1f\x7f]'
                    THEN ARRAY['event_id', format(
                        'must be 1 to %s characters, without control characters',
                        shared.event_limit('event_id_length'))]
                WHEN p_event_source_url ~ '[\x01-\x1f\x7f]'
                    THEN ARRAY['event_source_url', format(
                        'must be an http(s) URL without spaces, at most %s characters',
                        shared.event_limit('url_length'))]
                ELSE ARRAY['client_user_agent', format(
                        'must be at most %s characters, without control characters',
                        shared.event_limit('url_length'))]
            END
        WHEN p_occurred_at > statement_timestamp()
                             + make_interval(secs => shared.event_limit('future_seconds'))
            THEN ARRAY['occurred_at', format('must not be more than %s s in the future',
                                             shared.event_limit('future_seconds'))]
        -- ^https?://\S+$ as the HTTP path has it, without a regular expression (the hot path):
        -- control characters are refused above, so only the space is left to look for.
        WHEN length(p_event_source_url) > shared.event_limit('url_length')
             OR NOT (p_event_source_url LIKE 'https://_%' OR p_event_source_url LIKE 'http://_%')
             OR strpos(p_event_source_url, ' ') > 0
            THEN ARRAY['event_source_url', format(
                'must be an http(s) URL without spaces, at most %s characters',
                shared.event_limit('url_length'))]
        WHEN length(p_client_user_agent) > shared.event_limit('url_length')
            THEN ARRAY['client_user_agent', format(
                'must be at most %s characters, without control characters',
                shared.event_limit('url_length'))]
        -- A container nested deeper than the limit (the root object is level 1; {8} is
        -- property_depth: a path expression takes no parameter there).
        WHEN jsonb_path_exists(p_properties,
                               '$.**{8} ? (@.type() == "object" || @.type() == "array")')
            THEN ARRAY['properties', format('nested deeper than %s levels',
                                            shared.event_limit('property_depth'))]
        -- Only a document big enough to hold a too-long text is walked (a compressed one may be
        -- small on disk and long as text).
        WHEN pg_column_size(p_properties) > shared.event_limit('meta_text_length')
             OR pg_column_compression(p_properties) IS NOT NULL
            THEN shared._properties_text_problem(p_properties)
    END
$_$;


--
-- Name: _feature_churned_at(timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._feature_churned_at(p_last_paid_at timestamp with time zone, p_last_cancel_at timestamp with time zone, p_last_seen_at timestamp with time zone, p_now timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN p_last_cancel_at IS NOT NULL
                     AND (p_last_paid_at IS NULL OR p_last_cancel_at >= p_last_paid_at)
                THEN p_last_cancel_at
                WHEN p_last_seen_at <= p_now - interval '30 days'
                THEN p_last_seen_at + interval '30 days' END
$$;


--
-- Name: _feature_paid(timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._feature_paid(p_last_paid_at timestamp with time zone, p_last_cancel_at timestamp with time zone) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT p_last_paid_at IS NOT NULL
           AND (p_last_cancel_at IS NULL OR p_last_cancel_at < p_last_paid_at)
$$;


--
-- Name: _fold_new_events(timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._fold_new_events(p_now timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
DECLARE
    v_today date := shared._utc_day(p_now);
    v_rows bigint;
BEGIN
    WITH src AS MATERIALIZED (
        SELECT n.id, n.person_id, n.product_id, shared._utc_day(n.occurred_at) AS day,
               n.occurred_at, n.event_name, n.properties, coalesce(own.kind, anyp.kind) AS kind
        FROM pg_temp._segment_new_event AS ne
        JOIN shared.event AS n ON n.id = ne.id
        LEFT JOIN shared.feature_event_kind AS own
               ON own.product_id = n.product_id AND own.event_name = n.event_name
        LEFT JOIN shared.feature_event_kind AS anyp
               ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
        WHERE n.person_id IS NOT NULL
    ), by_name AS (
        SELECT k.person_id, k.product_id, k.day, k.event_name, k.kind, count(*)::integer AS n,
               min(k.occurred_at) AS first_at, max(k.occurred_at) AS last_at
        FROM src AS k GROUP BY 1, 2, 3, 4, 5
    ), days AS (
        SELECT b.person_id, b.product_id, b.day,
               min(b.first_at) AS first_at, max(b.last_at) AS last_at,
               sum(b.n)::integer AS events,
               coalesce(sum(b.n) FILTER (WHERE shared._counts_as_usage(b.kind)), 0)::integer
                   AS usage,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'pricing_view'), 0)::integer
                   AS pricing_views,
               min(b.first_at) FILTER (WHERE b.kind = 'activation') AS first_activation_at,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'payment'), 0)::integer AS payments,
               max(b.last_at) FILTER (WHERE b.kind = 'payment') AS last_payment_at,
               max(b.last_at) FILTER (WHERE b.kind = 'cancel') AS last_cancel_at,
               jsonb_object_agg(b.event_name, b.n) AS counts,
               min(b.first_at) FILTER (WHERE b.kind = 'payment') AS first_payment_at,
               max(b.last_at) FILTER (WHERE shared._counts_as_usage(b.kind)) AS last_usage_at
        FROM by_name AS b GROUP BY 1, 2, 3
    ), paid AS (
        SELECT DISTINCT ON (k.person_id, k.product_id, k.day) k.person_id, k.product_id, k.day,
               k.properties ->> 'plan' AS plan, shared._payment_mrr(k.properties) AS mrr
        FROM src AS k WHERE k.kind = 'payment'
        ORDER BY k.person_id, k.product_id, k.day, k.occurred_at DESC, k.id DESC
    ), folded AS (
        INSERT INTO shared.person_activity_recent AS a (
            person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
            first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at,
            event_counts, first_payment_at, last_usage_at)
        SELECT d.person_id, d.product_id, d.day, d.first_at, d.last_at, d.events, d.usage,
               d.pricing_views, d.first_activation_at, d.payments, d.last_payment_at, p.plan,
               p.mrr, d.last_cancel_at, d.counts, d.first_payment_at, d.last_usage_at
        FROM days AS d
        LEFT JOIN paid AS p USING (person_id, product_id, day)
        ORDER BY d.person_id, d.product_id, d.day
        -- The day's rows folded by an earlier evaluation today.
        ON CONFLICT (person_id, product_id, day) DO UPDATE SET (
            first_at, last_at, events, usage, pricing_views, first_activation_at, payments,
            last_payment_at, plan, mrr, last_cancel_at, event_counts, first_payment_at,
            last_usage_at
        ) = (SELECT m.first_at, m.last_at, m.events, m.usage, m.pricing_views,
                    m.first_activation_at, m.payments, m.last_payment_at, m.plan, m.mrr,
                    m.last_cancel_at, m.event_counts, m.first_payment_at, m.last_usage_at
             FROM shared._activity_day_merged(ROW(a.*)::shared.person_activity_settled,
                                              ROW(excluded.*)::shared.person_activity_settled)
                  AS m)
    ), latest_payment AS (
        -- The person's latest payment: the day picks above, by their day's last payment; of two
        -- at the same instant, the greater product's (as the recompute picks them).
        SELECT DISTINCT ON (p.person_id) p.person_id, p.plan, p.mrr
        FROM paid AS p JOIN days AS d USING (person_id, product_id, day)
        ORDER BY p.person_id, d.last_payment_at DESC, p.product_id DESC
    )
    -- Per person, what the new events add: each of these only grows (lasts, counts) or shrinks
    -- (firsts) as events come, so it merges into the stored features.
    INSERT INTO pg_temp._segment_candidate (
        person_id, added_products, added_first_at, added_last_at, added_last_activity_at,
        added_events, added_activated_at, added_first_paid_at, added_last_paid_at, added_plan,
        added_mrr, added_last_cancel_at, added_pricing_views_7d, added_pricing_views_30d,
        added_usage_7d, added_usage_30d, added_oldest_7d, added_oldest_30d)
    SELECT d.person_id, array_agg(d.product_id), min(d.first_at), max(d.last_at),
           max(d.last_usage_at), sum(d.events), min(d.first_activation_at),
           min(d.first_payment_at), max(d.last_payment_at), min(lp.plan), min(lp.mrr),
           max(d.last_cancel_at),
           coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 7), 0),
           coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 30), 0),
           coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 7), 0),
           coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 30), 0),
           min(d.day) FILTER (WHERE d.day > v_today - 7 AND (d.usage > 0 OR d.pricing_views > 0)),
           min(d.day) FILTER (WHERE d.day > v_today - 30 AND (d.usage > 0 OR d.pricing_views > 0))
    FROM days AS d
    LEFT JOIN latest_payment AS lp USING (person_id)
    GROUP BY d.person_id
    -- A person already logged as changed is recomputed from every day anyway.
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;


--
-- Name: _is_sha256_hex(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._is_sha256_hex(p_text text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT length(p_text) = 64 AND translate(p_text, '0123456789abcdefABCDEF', '') = '' $$;


--
-- Name: _is_valid_email(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._is_valid_email(p_email text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$ SELECT p_email ~ '^[^@\s]+@[^@\s]+\.[^@\s.]+$' $_$;


--
-- Name: _jsonb_fill_step(jsonb, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._jsonb_fill_step(p_state jsonb, p_next jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(p_next, '{}'::jsonb) || coalesce(p_state, '{}'::jsonb) $$;


--
-- Name: _jsonb_sum_counts(jsonb, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._jsonb_sum_counts(p_a jsonb, p_b jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
    FROM (SELECT e.key AS k, sum(e.value::bigint) AS n
          FROM (SELECT * FROM jsonb_each_text(p_a) UNION ALL SELECT * FROM jsonb_each_text(p_b)) AS e
          GROUP BY e.key) AS s
$$;


--
-- Name: _latest_payment_value(timestamp with time zone, anyelement, timestamp with time zone, anyelement); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._latest_payment_value(p_a_at timestamp with time zone, p_a anyelement, p_b_at timestamp with time zone, p_b anyelement) RETURNS anyelement
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN p_b_at >= p_a_at OR p_a_at IS NULL THEN p_b ELSE p_a END $$;


--
-- Name: meta_lead; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.meta_lead (
    leadgen_id text NOT NULL,
    page_id text NOT NULL,
    form_id text NOT NULL,
    ad_id text,
    adset_id text,
    campaign_id text,
    is_organic boolean,
    created_time timestamp with time zone,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    deliveries integer DEFAULT 1 NOT NULL,
    last_delivery_at timestamp with time zone DEFAULT now() NOT NULL,
    status text DEFAULT 'received'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    person_id uuid,
    project_id text,
    synced_at timestamp with time zone,
    field_names text[] DEFAULT '{}'::text[] NOT NULL,
    error_code integer,
    error_subcode integer,
    error_message text,
    CONSTRAINT meta_lead_leadgen_id_format CHECK ((leadgen_id ~ '^[0-9]{1,30}$'::text)),
    CONSTRAINT meta_lead_status_known CHECK ((status = ANY (ARRAY['received'::text, 'synced'::text, 'failed'::text])))
);


--
-- Name: TABLE meta_lead; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.meta_lead IS 'Lead Ads notifications, one row per leadgen_id, and what became of each lead. Ids only.';


--
-- Name: _lead_as_person(jsonb, shared.meta_lead); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._lead_as_person(p_lead jsonb, p_row shared.meta_lead) RETURNS TABLE(person jsonb, project_id text, campaign_id text, created_time timestamp with time zone, problem text)
    LANGUAGE plpgsql STABLE
    AS $_$
DECLARE
    v_id text := p_lead ->> 'id';
    v_form text := coalesce(p_lead ->> 'form_id', p_row.form_id);
    v_ad text := coalesce(p_lead ->> 'ad_id', p_row.ad_id);
    v_fields jsonb;
    v_campaign_id text;
    v_campaign_name text;
    v_project text;
    v_email text;
    v_full text;
    v_created timestamptz;
BEGIN
    v_campaign_id := coalesce(p_lead ->> 'campaign_id', p_row.campaign_id,
                              (SELECT d.campaign_id FROM shared.performance_daily AS d
                               WHERE d.ad_id = v_ad ORDER BY d.date DESC LIMIT 1));
    SELECT c.campaign_name, c.project_id INTO v_campaign_name, v_project
    FROM shared.campaign_project AS c WHERE c.campaign_id = v_campaign_id;
    v_campaign_name := coalesce(p_lead ->> 'campaign_name', v_campaign_name);
    v_project := coalesce(v_project, shared._project_for_campaign_name(v_campaign_name),
                          shared.setting_value('LEAD_ADS_DEFAULT_PRODUCT') #>> '{}', 'waitlistlab');
    v_created := CASE WHEN (p_lead ->> 'created_time') ~ '^\d{4}-\d{2}-\d{2}T'
                      THEN (p_lead ->> 'created_time')::timestamptz
                      ELSE p_row.created_time END;

    v_fields := shared._lead_person_fields(v_form, p_lead -> 'field_data');
    v_email := shared._normalize_email(v_fields ->> 'email');
    IF v_email IS NULL OR NOT shared._is_valid_email(v_email) THEN
        RETURN QUERY SELECT NULL::jsonb, v_project, v_campaign_id, v_created,
                            'the lead has no usable email (a person needs one)'::text;
        RETURN;
    END IF;
    v_full := shared._trim(v_fields ->> 'full_name');
    RETURN QUERY SELECT jsonb_strip_nulls(jsonb_build_object(
        'email', v_email,
        'phone', shared._normalize_phone(v_fields ->> 'phone'),
        'first_name', coalesce(v_fields ->> 'first_name', nullif(split_part(v_full, ' ', 1), '')),
        'last_name', coalesce(v_fields ->> 'last_name',
                              nullif(shared._trim(substr(v_full, length(split_part(v_full, ' ', 1)) + 1)), '')),
        'city', v_fields ->> 'city',
        'state', v_fields ->> 'state',
        'zip', v_fields ->> 'zip',
        'country', CASE WHEN upper(v_fields ->> 'country') ~ '^[A-Z]{2}$'
                        THEN upper(v_fields ->> 'country') END,
        'gender', shared._normalize_gender(v_fields ->> 'gender'),
        'date_of_birth', shared._lead_date(v_fields ->> 'date_of_birth')::text,
        'utm_source', 'meta',
        'utm_medium', CASE WHEN (p_lead ->> 'is_organic') = 'true' OR v_ad IS NULL
                           THEN 'organic' ELSE 'paid' END,
        'utm_campaign', v_campaign_name,
        'meta_lead_form_id', v_form,
        'source_product', v_project,
        'lifecycle_stage', 'lead',
        'properties', CASE WHEN v_fields -> 'lead_answers' <> '{}'::jsonb
                           THEN jsonb_build_object('lead_answers', v_fields -> 'lead_answers') END,
        'identities', jsonb_build_array(jsonb_build_object(
            'provider', 'meta_lead',
            'external_id', v_id,
            'metadata', jsonb_strip_nulls(jsonb_build_object(
                'form_id', v_form, 'ad_id', v_ad, 'campaign_id', v_campaign_id,
                'page_id', p_row.page_id)))))),
        v_project, v_campaign_id, v_created, NULL::text;
END
$_$;


--
-- Name: _lead_date(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._lead_date(p_value text) RETURNS date
    LANGUAGE plpgsql IMMUTABLE
    AS $_$
BEGIN
    IF p_value ~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN p_value::date;
    ELSIF p_value ~ '^\d{1,2}/\d{1,2}/\d{4}$' THEN
        RETURN to_date(p_value, 'MM/DD/YYYY');
    END IF;
    RETURN NULL;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$_$;


--
-- Name: _lead_person_fields(text, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._lead_person_fields(p_form_id text, p_field_data jsonb) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    WITH answers AS (
        SELECT f.value ->> 'name' AS name,
               (SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(
                    CASE WHEN jsonb_typeof(f.value -> 'values') = 'array'
                         THEN f.value -> 'values' ELSE '[]'::jsonb END) AS v) AS all_values,
               CASE WHEN jsonb_typeof(f.value -> 'values') = 'array'
                    THEN nullif(shared._trim(f.value -> 'values' ->> 0), '') END AS first_value
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_field_data) = 'array'
                                       THEN p_field_data ELSE '[]'::jsonb END) AS f
        WHERE jsonb_typeof(f.value) = 'object' AND f.value ->> 'name' IS NOT NULL
    ), mapped AS (
        SELECT a.name, a.all_values, a.first_value,
               (SELECT m.person_field FROM shared.lead_field_map AS m
                WHERE m.meta_field = lower(a.name) AND m.form_id IN (p_form_id, '*')
                ORDER BY (m.form_id = '*') LIMIT 1) AS person_field
        FROM answers AS a
    )
    SELECT coalesce((SELECT jsonb_object_agg(x.person_field, x.first_value)
                     FROM (SELECT DISTINCT ON (m.person_field) m.person_field, m.first_value
                           FROM mapped AS m
                           WHERE m.person_field IS NOT NULL AND m.person_field <> 'ignore'
                             AND m.first_value IS NOT NULL
                           ORDER BY m.person_field, m.name) AS x), '{}'::jsonb)
           || jsonb_build_object('lead_answers',
                  coalesce((SELECT jsonb_object_agg(m.name, m.all_values) FROM mapped AS m
                            WHERE m.person_field IS NULL AND m.all_values IS NOT NULL),
                           '{}'::jsonb))
$$;


--
-- Name: feature_flag; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.feature_flag (
    flag_key text NOT NULL,
    gap text NOT NULL,
    enable_order smallint NOT NULL,
    description text NOT NULL,
    enabled boolean DEFAULT false NOT NULL,
    required_settings text[] DEFAULT '{}'::text[] NOT NULL,
    required_secrets text[] DEFAULT '{}'::text[] NOT NULL,
    changed_at timestamp with time zone,
    changed_by text,
    CONSTRAINT feature_flag_gap_format CHECK ((gap ~ '^GAP-00[1-7]$'::text)),
    CONSTRAINT feature_flag_key_format CHECK ((flag_key ~ '^[A-Z][A-Z0-9_]+$'::text))
);


--
-- Name: _lock_flag(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._lock_flag(p_flag_key text) RETURNS shared.feature_flag
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_flag shared.feature_flag;
BEGIN
    -- Serialize gate changes: two admins enabling and disabling neighbours cannot race past
    -- each other's checks.
    PERFORM pg_advisory_xact_lock(hashtext('shared.feature_flag'));
    SELECT * INTO v_flag FROM shared.feature_flag WHERE flag_key = p_flag_key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'flag', format('no flag %s (see gdp flags list)', p_flag_key));
    END IF;
    RETURN v_flag;
END
$$;


--
-- Name: _lock_people(uuid[]); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._lock_people(p_ids uuid[]) RETURNS uuid[]
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    -- Each id probed through the primary key, in id order (two batches naming the same people
    -- lock them in one order, so they never deadlock): `id = ANY (...)` reads all of
    -- shared.person whenever the table's statistics are older than its growth.
    SELECT coalesce(array_agg(l.id), '{}'::uuid[])
    FROM (SELECT DISTINCT u.id FROM unnest(p_ids) AS u(id)
          WHERE u.id IS NOT NULL ORDER BY u.id) AS ids
    CROSS JOIN LATERAL (SELECT p.id FROM shared.person AS p
                        WHERE p.id = ids.id
                        LIMIT 1
                        FOR KEY SHARE OF p) AS l
$$;


--
-- Name: _meta_action_map(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._meta_action_map(p_list jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
    SELECT coalesce(jsonb_object_agg(s.action_type, s.value), '{}'::jsonb)
    FROM (
        SELECT e ->> 'action_type' AS action_type, sum((e ->> 'value')::numeric) AS value
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_list) = 'array'
                                       THEN p_list ELSE '[]'::jsonb END) AS e
        WHERE e ->> 'action_type' IS NOT NULL AND (e ->> 'value') ~ '^-?[0-9]+(\.[0-9]+)?$'
        GROUP BY 1
    ) AS s
$_$;


--
-- Name: _meta_phone_digits(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._meta_phone_digits(p_e164 text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ltrim(p_e164, '+') $$;


--
-- Name: _meta_strip(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._meta_strip(p_value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT btrim(btrim(btrim(p_value,
        U&'\0009\000A\000B\000C\000D\001C\001D\001E\001F\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000'),
        U&'\200B\200C\200D\200E\200F\2060\FEFF'),
        U&'\0009\000A\000B\000C\000D\001C\001D\001E\001F\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000')
$$;


--
-- Name: _meta_user_data_entry_ok(text, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._meta_user_data_entry_ok(p_key text, p_value jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE shared._meta_user_data_key_kind(p_key)
        WHEN 'hashed' THEN
            CASE jsonb_typeof(p_value)
                WHEN 'string' THEN shared._is_sha256_hex(p_value #>> '{}')
                WHEN 'array' THEN shared._all_sha256_hex(p_value)
                ELSE false
            END
        WHEN 'id' THEN jsonb_typeof(p_value) = 'string'
        ELSE false
    END
$$;


--
-- Name: _meta_user_data_key_kind(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._meta_user_data_key_kind(p_key text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE
        WHEN p_key IN ('em', 'ph', 'fn', 'ln', 'ge', 'db', 'ct', 'st', 'zp', 'country',
                       'external_id') THEN 'hashed'
        WHEN p_key IN ('subscription_id', 'fb_login_id', 'lead_id', 'anon_id', 'madid', 'page_id',
                       'page_scoped_user_id', 'ctwa_clid', 'ig_account_id', 'ig_sid') THEN 'id'
        WHEN p_key IN ('client_ip_address', 'client_user_agent', 'fbc', 'fbp') THEN 'column'
    END
$$;


--
-- Name: _meta_user_data_problem(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._meta_user_data_problem(p_user_data jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
    SELECT CASE shared._meta_user_data_key_kind(f.key)
        WHEN 'hashed' THEN format('%s must be a SHA-256 hex digest (or a list of them): raw '
                                  'values go in user_data of POST /api/v1/meta/event, which '
                                  'hashes them', f.key)
        WHEN 'id' THEN format('%s must be a string', f.key)
        WHEN 'column' THEN format('%s has its own column on shared.event', f.key)
        -- The key is named only when it looks like a key: a stray email must not be echoed.
        ELSE CASE WHEN f.key ~ '^[a-z][a-z0-9_]{0,39}$'
                  THEN format('%s is not a Meta user_data key', f.key)
                  ELSE 'a key that is not a Meta user_data key' END
    END
    FROM jsonb_each(CASE WHEN jsonb_typeof(p_user_data) = 'object' THEN p_user_data
                         ELSE '{}'::jsonb END) AS f
    WHERE NOT shared._meta_user_data_entry_ok(f.key, f.value)
    ORDER BY f.key
    LIMIT 1
$_$;


--
-- Name: _normalize_email(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._normalize_email(p_email text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    -- ASCII (as many bytes as characters), the common case: Python's strip() and lower() of
    -- ASCII text are these, and "C" lower-cases A-Z only whatever the database's locale.
    SELECT nullif(CASE
        WHEN octet_length(p_email) = length(p_email)
            THEN lower(btrim(p_email, E'\t\n\x0B\f\r\x1C\x1D\x1E\x1F ') COLLATE "C")
                 COLLATE "default"
        ELSE lower(normalize(shared._meta_strip(p_email), NFC) COLLATE "und-x-icu")
             COLLATE "default"
    END, '')
$$;


--
-- Name: _normalize_gender(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._normalize_gender(p_gender text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE lower(shared._trim(p_gender))
        WHEN 'f' THEN 'f' WHEN 'female' THEN 'f' WHEN 'woman' THEN 'f'
        WHEN 'm' THEN 'm' WHEN 'male' THEN 'm' WHEN 'man' THEN 'm'
    END
$$;


--
-- Name: _normalize_phone(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._normalize_phone(p_phone text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
    -- One expression (no CTE) so that it inlines; the common case is already E.164.
    SELECT CASE
        WHEN p_phone ~ '^\+[1-9][0-9]{6,14}$' THEN p_phone
        WHEN regexp_replace(regexp_replace(p_phone, '[\s().\-/]', '', 'g'), '^00', '+')
             ~ '^\+[1-9][0-9]{6,14}$'
        THEN regexp_replace(regexp_replace(p_phone, '[\s().\-/]', '', 'g'), '^00', '+')
    END
$_$;


--
-- Name: _payment_mrr(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._payment_mrr(p_properties jsonb) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
    SELECT round(substring(coalesce(p_properties ->> 'mrr', p_properties ->> 'plan_price',
                                    p_properties ->> 'upgrade_price', p_properties ->> 'value')
                           FROM '^\s*([0-9]{1,12}(?:\.[0-9]+)?)\s*$')::numeric, 2)
$_$;


--
-- Name: _people_for_caller(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._people_for_caller(p_people jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
DECLARE
    v_claim text;
    v_bad record;
BEGIN
    IF current_setting('role', true) IS DISTINCT FROM 'gdp_product'
       AND current_user <> 'gdp_product' THEN
        RETURN p_people;
    END IF;
    v_claim := shared.product_claim();
    IF v_claim IS NULL THEN
        PERFORM shared._raise('GD403', 'product_id',
            'this request carries no valid product credential (a gdp_product JWT from '
            '`gdp keys create PRODUCT --jwt` that is not revoked)');
    END IF;
    IF p_people IS NULL OR jsonb_typeof(p_people) <> 'array' THEN
        RETURN p_people;
    END IF;
    SELECT e.ord, e.v ->> 'source_product' AS product INTO v_bad
    FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    WHERE jsonb_typeof(e.v) = 'object'
      AND e.v ? 'source_product' AND jsonb_typeof(e.v -> 'source_product') <> 'null'
      AND e.v ->> 'source_product' IS DISTINCT FROM v_claim
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD403', 'source_product',
            format('a credential of %s upserts people only for %s, not %s (entry %s)',
                   v_claim, v_claim, v_bad.product, v_bad.ord));
    END IF;
    RETURN (
        SELECT jsonb_agg(CASE WHEN jsonb_typeof(e.v) = 'object'
                              THEN e.v || jsonb_build_object('source_product', v_claim)
                              ELSE e.v END
                         ORDER BY e.ord)
        FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    );
END
$$;


--
-- Name: _people_input_problem(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._people_input_problem(p_people jsonb) RETURNS TABLE(ord bigint, field text, rule text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $_$
BEGIN
    RETURN QUERY
    WITH entries AS (
        SELECT e.ord, e.v, jsonb_typeof(e.v) = 'object' AS is_object
        FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    ), shape AS (
        -- Unknown keys and non-string values, found in one pass over every key.
        SELECT en.ord, f.key AS field,
               CASE WHEN f.key <> ALL (shared._person_input_keys()) THEN 'is not a person field'
                    ELSE 'must be a string' END AS rule
        FROM entries AS en
        CROSS JOIN LATERAL jsonb_each(CASE WHEN en.is_object THEN en.v ELSE '{}'::jsonb END) AS f
        WHERE f.key <> ALL (shared._person_input_keys())
           OR (f.key NOT IN ('properties', 'identities')
               AND jsonb_typeof(f.value) NOT IN ('string', 'null'))
    ), fields AS (
        SELECT en.ord, checks.problem[1] AS field, checks.problem[2] AS rule
        FROM entries AS en
        LEFT JOIN shared.product AS pr
          ON pr.product_id = shared._trim(en.v ->> 'source_product')
        CROSS JOIN LATERAL (
            SELECT shared._normalize_email(en.v ->> 'email') AS email,
                   nullif(shared._trim(en.v ->> 'phone'), '') AS phone,
                   nullif(shared._trim(en.v ->> 'lifecycle_stage'), '') AS stage,
                   upper(nullif(shared._trim(en.v ->> 'country'), '')) AS country,
                   nullif(shared._trim(en.v ->> 'gender'), '') AS gender,
                   nullif(shared._trim(en.v ->> 'date_of_birth'), '') AS dob,
                   nullif(shared._trim(en.v ->> 'source_product'), '') AS product
        ) AS x
        CROSS JOIN LATERAL (
            SELECT CASE
                WHEN x.email IS NULL THEN ARRAY['email', 'is required']
                WHEN NOT shared._is_valid_email(x.email)
                    THEN ARRAY['email', 'is not a valid email address']
                WHEN x.phone IS NOT NULL AND shared._normalize_phone(x.phone) IS NULL
                    THEN ARRAY['phone', 'must be E.164: a + and the country code, e.g. +14155550123']
                WHEN x.stage NOT IN ('lead', 'activated', 'customer', 'churned')
                    THEN ARRAY['lifecycle_stage', 'must be one of lead, activated, customer, churned']
                WHEN x.country !~ '^[A-Z]{2}$'
                    THEN ARRAY['country', 'must be an ISO 3166-1 alpha-2 code, e.g. US']
                WHEN x.gender IS NOT NULL AND shared._normalize_gender(x.gender) IS NULL
                    THEN ARRAY['gender', 'must be f or m']
                WHEN x.dob IS NOT NULL AND shared._try_iso_date(x.dob) IS NULL
                    THEN ARRAY['date_of_birth', 'must be a date as YYYY-MM-DD']
                WHEN x.product IS NOT NULL AND pr.product_id IS NULL
                    THEN ARRAY['source_product', 'is not a known product']
                WHEN en.v ? 'properties' AND jsonb_typeof(en.v -> 'properties') NOT IN ('object', 'null')
                    THEN ARRAY['properties', 'must be a JSON object']
                WHEN en.v ? 'identities' AND jsonb_typeof(en.v -> 'identities') NOT IN ('array', 'null')
                    THEN ARRAY['identities', 'must be a JSON array of {provider, external_id}']
            END AS problem
        ) AS checks
        WHERE en.is_object AND checks.problem IS NOT NULL
    ), identities AS (
        SELECT en.ord, 'identities' AS field,
               'each needs a provider (lowercase slug) and an external_id' AS rule
        FROM entries AS en
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(en.v -> 'identities') = 'array'
                 THEN en.v -> 'identities' ELSE '[]'::jsonb END) AS i(v)
        WHERE jsonb_typeof(i.v) <> 'object'
           OR coalesce(i.v ->> 'provider', '') !~ '^[a-z][a-z0-9_]{1,39}$'
           OR length(coalesce(i.v ->> 'external_id', '')) NOT BETWEEN 1 AND 255
           OR (i.v ? 'metadata' AND jsonb_typeof(i.v -> 'metadata') <> 'object')
    )
    SELECT problem.ord, problem.field, problem.rule
    FROM (
        SELECT en.ord, 0 AS stage, 'person' AS field, 'must be a JSON object' AS rule
        FROM entries AS en WHERE NOT en.is_object
        UNION ALL SELECT s.ord, 1, s.field, s.rule FROM shape AS s
        UNION ALL SELECT f.ord, 2, f.field, f.rule FROM fields AS f
        UNION ALL SELECT i.ord, 3, i.field, i.rule FROM identities AS i
    ) AS problem
    ORDER BY problem.ord, problem.stage, problem.field
    LIMIT 1;
END
$_$;


--
-- Name: _person_after_delete(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._person_after_delete() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM shared.event AS e USING old_people AS o WHERE e.person_id = o.id;
    UPDATE shared.attribution_events AS a SET person_id = NULL
    FROM old_people AS o WHERE a.person_id = o.id;
    RETURN NULL;
END
$$;


--
-- Name: _person_before_write(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._person_before_write() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
DECLARE
    v_phone text;
BEGIN
    NEW.email := shared._normalize_email(NEW.email);
    IF NEW.email IS NULL THEN
        PERFORM shared._raise('GD400', 'email', 'is required');
    ELSIF NOT shared._is_valid_email(NEW.email) THEN
        PERFORM shared._raise('GD400', 'email', 'is not a valid email address');
    END IF;

    IF nullif(shared._trim(NEW.phone), '') IS NULL THEN
        NEW.phone := NULL;
    ELSE
        v_phone := shared._normalize_phone(NEW.phone);
        IF v_phone IS NULL THEN
            PERFORM shared._raise('GD400', 'phone',
                'must be E.164: a + and the country code, e.g. +14155550123');
        END IF;
        NEW.phone := v_phone;
    END IF;

    NEW.country := upper(nullif(shared._trim(NEW.country), ''));
    IF NEW.country IS NOT NULL AND NEW.country !~ '^[A-Z]{2}$' THEN
        PERFORM shared._raise('GD400', 'country', 'must be an ISO 3166-1 alpha-2 code, e.g. US');
    END IF;
    IF nullif(shared._trim(NEW.gender), '') IS NULL THEN
        NEW.gender := NULL;
    ELSE
        NEW.gender := shared._normalize_gender(NEW.gender);
        IF NEW.gender IS NULL THEN
            PERFORM shared._raise('GD400', 'gender', 'must be f or m');
        END IF;
    END IF;

    NEW.first_name := nullif(shared._trim(NEW.first_name), '');
    NEW.last_name := nullif(shared._trim(NEW.last_name), '');
    NEW.city := nullif(shared._trim(NEW.city), '');
    NEW.state := nullif(shared._trim(NEW.state), '');
    NEW.zip := nullif(shared._trim(NEW.zip), '');
    NEW.utm_source := nullif(shared._trim(NEW.utm_source), '');
    NEW.utm_medium := nullif(shared._trim(NEW.utm_medium), '');
    NEW.utm_campaign := nullif(shared._trim(NEW.utm_campaign), '');
    NEW.utm_content := nullif(shared._trim(NEW.utm_content), '');
    NEW.utm_term := nullif(shared._trim(NEW.utm_term), '');
    NEW.meta_fbp := nullif(shared._trim(NEW.meta_fbp), '');
    NEW.meta_fbc := nullif(shared._trim(NEW.meta_fbc), '');
    NEW.meta_lead_form_id := nullif(shared._trim(NEW.meta_lead_form_id), '');
    NEW.source_product := nullif(shared._trim(NEW.source_product), '');

    IF TG_OP = 'UPDATE' THEN
        IF coalesce(current_setting('gdp.allow_attribution_rewrite', true), '') <> 'on' THEN
            NEW.utm_source := coalesce(OLD.utm_source, NEW.utm_source);
            NEW.utm_medium := coalesce(OLD.utm_medium, NEW.utm_medium);
            NEW.utm_campaign := coalesce(OLD.utm_campaign, NEW.utm_campaign);
            NEW.utm_content := coalesce(OLD.utm_content, NEW.utm_content);
            NEW.utm_term := coalesce(OLD.utm_term, NEW.utm_term);
            NEW.meta_fbp := coalesce(OLD.meta_fbp, NEW.meta_fbp);
            NEW.meta_fbc := coalesce(OLD.meta_fbc, NEW.meta_fbc);
            NEW.meta_lead_form_id := coalesce(OLD.meta_lead_form_id, NEW.meta_lead_form_id);
            NEW.source_product := coalesce(OLD.source_product, NEW.source_product);
        END IF;
        NEW.id := OLD.id;
        NEW.created_at := OLD.created_at;
        IF NEW.consent_status IS DISTINCT FROM OLD.consent_status
           AND NEW.consent_changed_at IS NOT DISTINCT FROM OLD.consent_changed_at THEN
            NEW.consent_changed_at := now();
        END IF;
        -- Only a real change moves updated_at, so a resent lead leaves the row as it was; an
        -- explicit updated_at (a backfill) is kept.
        IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at AND NEW IS DISTINCT FROM OLD THEN
            NEW.updated_at := now();
        END IF;
    ELSIF NEW.consent_status <> 'unknown' AND NEW.consent_changed_at IS NULL THEN
        NEW.consent_changed_at := now();
    END IF;
    RETURN NEW;
END
$_$;


--
-- Name: _person_features_changed(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._person_features_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
    INSERT INTO shared.segment_change_log (person_ids)
    SELECT array_agg(p.id) FROM changed_people AS p HAVING count(*) > 0;
    RETURN NULL;
END
$$;


--
-- Name: _person_input_keys(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._person_input_keys() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT ARRAY['email', 'phone', 'first_name', 'last_name', 'city', 'state', 'zip', 'country',
                 'date_of_birth', 'gender', 'utm_source', 'utm_medium', 'utm_campaign',
                 'utm_content', 'utm_term', 'meta_fbp', 'meta_fbc', 'meta_lead_form_id',
                 'source_product', 'lifecycle_stage', 'properties', 'identities']
$$;


--
-- Name: _person_segment_rows_erased(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._person_segment_rows_erased() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
    DELETE FROM shared.segment_history AS h USING old_people AS o WHERE h.person_id = o.id;
    -- Recent first: a settle moving the person's rows commits before this sees them, and the
    -- next statement (a new snapshot) then finds them settled.
    DELETE FROM shared.person_activity_recent AS d USING old_people AS o WHERE d.person_id = o.id;
    DELETE FROM shared.person_activity_settled AS d USING old_people AS o WHERE d.person_id = o.id;
    RETURN NULL;
END
$$;


--
-- Name: _person_withdrawal_waits_for_delivery(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._person_withdrawal_waits_for_delivery() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM 1 FROM shared.person AS p WHERE p.id = OLD.id FOR UPDATE;
    RETURN NEW;
END
$$;


--
-- Name: _pii_properties_text_pattern(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._pii_properties_text_pattern() RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT '[\\@]|%40|"[-_. ]*(' || string_agg(k.letters, '|') || ')[-_. ]*":'
    FROM (
        SELECT (SELECT string_agg(CASE c WHEN 'i' THEN '[iİ]' ELSE c END, '[-_. ]*')
                FROM regexp_split_to_table(key, '') AS c) AS letters
        FROM unnest(shared._pii_property_keys()) AS key
    ) AS k
$$;


--
-- Name: _pii_property_keys(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._pii_property_keys() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT ARRAY[
        'email', 'emailaddress', 'mail', 'em', 'phone', 'phonenumber', 'telephone', 'tel',
        'mobile', 'mobilephone', 'cellphone', 'ph', 'firstname', 'lastname', 'fn', 'ln',
        'givenname', 'familyname', 'surname', 'name', 'fullname', 'address', 'streetaddress',
        'street', 'homeaddress', 'postaladdress', 'billingaddress', 'shippingaddress',
        'dateofbirth', 'dob', 'birthday', 'birthdate', 'ssn', 'socialsecuritynumber',
        'ipaddress', 'clientipaddress']
$$;


--
-- Name: _product_before_delete(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._product_before_delete() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM shared.event AS e WHERE e.product_id = OLD.product_id) THEN
        PERFORM shared._raise('GD409', 'product_id',
            format('%s has events; it cannot be deleted', OLD.product_id));
    END IF;
    RETURN OLD;
END
$$;


--
-- Name: _project_for_campaign_name(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._project_for_campaign_name(p_campaign_name text) RETURNS text
    LANGUAGE sql STABLE
    AS $_$
    SELECT p.product_id
    FROM shared.product AS p
    CROSS JOIN LATERAL (
        SELECT min(pos) AS pos
        FROM unnest(ARRAY[p.product_id, lower(replace(p.display_name, ' ', ''))]) AS name(token)
        CROSS JOIN LATERAL (
            SELECT m.pos
            FROM (SELECT position(name.token IN lower(coalesce(p_campaign_name, ''))) AS pos) AS m
            WHERE m.pos > 0
              AND lower(p_campaign_name) ~ ('(^|[^a-z0-9])' || name.token || '([^a-z0-9]|$)')
        ) AS hit
    ) AS found
    WHERE found.pos IS NOT NULL
    ORDER BY found.pos, p.product_id
    LIMIT 1
$_$;


--
-- Name: _properties_pii_problem(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._properties_pii_problem(p_properties jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
    SELECT CASE
        WHEN p_properties IS NULL OR jsonb_typeof(p_properties) <> 'object'
             OR p_properties = '{}'::jsonb THEN NULL
        ELSE coalesce(
            (SELECT format('key %s names personal data: it belongs in the person '
                           '(upsert_people) or, hashed, in meta_user_data', k.key #>> '{}')
             FROM jsonb_path_query(p_properties,
                                   'strict $.** ? (@.type() == "object").keyvalue().key') AS k(key)
             WHERE translate(lower(k.key #>> '{}'), E' \t\n\r\f\v_-.', '')
                   = ANY (shared._pii_property_keys())
             LIMIT 1),
            CASE WHEN p_properties @? ('strict $.** ? (@.type() == "string" && @ like_regex '
                                       '"[^\\s@<>()\\[\\],;:\"]+(@|%40)[^\\s@<>()\\[\\],;:\"]+\\.[a-zA-Z]{2,}")')::jsonpath
                 THEN 'a value looks like an email address: personal data belongs in the person '
                      '(upsert_people) or, hashed, in meta_user_data' END)
    END
$_$;


--
-- Name: FUNCTION _properties_pii_problem(p_properties jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared._properties_pii_problem(p_properties jsonb) IS 'Why event properties hold personal data (a key naming it, an email-like value), or NULL: the HTTP path''s rule, for every insert.';


--
-- Name: _properties_text_problem(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._properties_text_problem(p_properties jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    WITH RECURSIVE walk(path, value, top) AS (
        SELECT 'properties.' || e.key, e.value, true
        FROM jsonb_each(CASE WHEN jsonb_typeof(p_properties) = 'object' THEN p_properties END) AS e
        UNION ALL
        SELECT w.path || CASE WHEN c.key IS NOT NULL THEN '.' || c.key
                              ELSE '[' || (c.ord - 1) || ']' END,
               c.value, false
        FROM walk AS w
        CROSS JOIN LATERAL (
            SELECT o.key, o.value, 0::bigint AS ord
            FROM jsonb_each(CASE WHEN jsonb_typeof(w.value) = 'object' THEN w.value END) AS o
            UNION ALL
            SELECT NULL, a.value, a.ord
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.value) = 'array' THEN w.value END)
                 WITH ORDINALITY AS a(value, ord)
        ) AS c
    ), limited AS (
        SELECT w.path, length(w.value #>> '{}') AS chars,
               CASE WHEN w.top AND w.path IN ('properties.content_name',
                         'properties.content_category', 'properties.order_id',
                         'properties.search_string', 'properties.status')
                    THEN shared.event_limit('meta_text_length')
                    ELSE shared.event_limit('property_text_length') END AS max_chars
        FROM walk AS w
        WHERE jsonb_typeof(w.value) = 'string'
    )
    SELECT ARRAY[l.path, format('must be at most %s characters', l.max_chars)]
    FROM limited AS l
    WHERE l.chars > l.max_chars
    ORDER BY l.path
    LIMIT 1
$$;


--
-- Name: _raise(text, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._raise(p_sqlstate text, p_field text, p_message text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = p_sqlstate,
        MESSAGE = CASE WHEN p_field IS NULL THEN p_message ELSE p_field || ': ' || p_message END,
        COLUMN = coalesce(p_field, '');
END
$$;


--
-- Name: _ratio(numeric, numeric, integer); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._ratio(p_numerator numeric, p_denominator numeric, p_scale integer DEFAULT 2) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN p_denominator > 0 THEN round(p_numerator / p_denominator, p_scale) END $$;


--
-- Name: _refresh_person_features(timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._refresh_person_features(p_now timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
DECLARE
    v_today date := shared._utc_day(p_now);
    v_rows bigint;
BEGIN
    WITH candidate AS (
        SELECT c.*, k.person_id IS NOT NULL AS known, k.ctid AS known_row,
               k.lifecycle_stage AS known_stage,
               k.products AS known_products, k.first_seen_at AS known_first_seen_at,
               k.last_seen_at AS known_last_seen_at,
               k.last_activity_at AS known_last_activity_at, k.events AS known_events,
               k.activated_at AS known_activated_at, k.first_paid_at AS known_first_paid_at,
               k.last_paid_at AS known_last_paid_at, k.plan AS known_plan, k.mrr AS known_mrr,
               k.last_cancel_at AS known_last_cancel_at,
               k.pricing_views_7d AS known_pricing_views_7d,
               k.pricing_views_30d AS known_pricing_views_30d, k.usage_7d AS known_usage_7d,
               k.usage_30d AS known_usage_30d, k.next_change_at AS known_next_change_at,
               k.paid AS known_paid, k.churned_at AS known_churned_at,
               c.added_events IS NOT NULL AND NOT c.person_changed AND k.person_id IS NOT NULL
                   AND (k.next_change_at IS NULL OR k.next_change_at > p_now)
                   -- A row from before last_cancel_at existed does not know it.
                   AND k.last_cancel_at IS DISTINCT FROM '-infinity' AS merged
        -- Per candidate through the primary key (a merge join would walk the whole index).
        FROM pg_temp._segment_candidate AS c
        LEFT JOIN shared.person_feature AS k ON k.person_id = c.person_id
    ), agg AS (
        SELECT c.person_id, c.merged, c.known, c.known_row, c.known_next_change_at, c.known_stage,
               c.known_products, c.known_first_seen_at, c.known_last_seen_at,
               c.known_last_activity_at, c.known_events, c.known_activated_at,
               c.known_first_paid_at, c.known_last_paid_at, c.known_paid, c.known_plan,
               c.known_mrr, c.known_churned_at, c.known_pricing_views_7d,
               c.known_pricing_views_30d, c.known_usage_7d, c.known_usage_30d,
               c.known_last_cancel_at, p.lifecycle_stage, a.*
        FROM candidate AS c
        -- The lifecycle stage is the one column taken from the person row, and every insert or
        -- update of a person is logged (person_changed): the person row is read only for those
        -- and for people new to the features; the others keep the stage they have.
        JOIN LATERAL (SELECT c.known_stage AS lifecycle_stage
                      WHERE c.known AND NOT c.person_changed
                      UNION ALL
                      SELECT pp.lifecycle_stage FROM shared.person AS pp
                      WHERE NOT (c.known AND NOT c.person_changed) AND pp.id = c.person_id) AS p
          ON true
        JOIN LATERAL (
            SELECT CASE WHEN c.added_products <@ c.known_products THEN c.known_products
                        ELSE ARRAY(SELECT DISTINCT u.p
                                   FROM unnest(c.known_products || c.added_products) AS u(p)
                                   ORDER BY u.p) END AS products,
                   least(c.known_first_seen_at, c.added_first_at) AS first_seen_at,
                   greatest(c.known_last_seen_at, c.added_last_at) AS last_seen_at,
                   greatest(c.known_last_activity_at, c.added_last_activity_at) AS last_activity_at,
                   c.known_events + c.added_events AS events,
                   least(c.known_activated_at, c.added_activated_at) AS activated_at,
                   least(c.known_first_paid_at, c.added_first_paid_at) AS first_paid_at,
                   greatest(c.known_last_paid_at, c.added_last_paid_at) AS last_paid_at,
                   -- The stored plan is the latest payment's while paid; a person not paid
                   -- before is paid now only through a new payment, which is then the latest.
                   shared._latest_payment_value(c.known_last_paid_at, c.known_plan,
                                                c.added_last_paid_at, c.added_plan) AS plan,
                   shared._latest_payment_value(c.known_last_paid_at, c.known_mrr,
                                                c.added_last_paid_at, c.added_mrr) AS mrr,
                   greatest(c.known_last_cancel_at, c.added_last_cancel_at) AS last_cancel_at,
                   c.known_pricing_views_7d + c.added_pricing_views_7d AS pv7,
                   c.known_pricing_views_30d + c.added_pricing_views_30d AS pv30,
                   c.known_usage_7d + c.added_usage_7d AS u7,
                   c.known_usage_30d + c.added_usage_30d AS u30,
                   c.added_oldest_7d AS oldest7, c.added_oldest_30d AS oldest30
            WHERE c.merged
            UNION ALL
            SELECT array_agg(DISTINCT d.product_id ORDER BY d.product_id) AS products,
                   min(d.first_at) AS first_seen_at, max(d.last_at) AS last_seen_at,
                   max(d.last_usage_at) AS last_activity_at,
                   sum(d.events) AS events,
                   min(d.first_activation_at) AS activated_at,
                   min(d.first_payment_at) AS first_paid_at,
                   max(d.last_payment_at) AS last_paid_at,
                   -- The latest payment's; of two at the same instant, the greater product's
                   -- (as the fold picks them).
                   (array_agg(d.plan ORDER BY d.last_payment_at DESC, d.product_id DESC)
                        FILTER (WHERE d.last_payment_at IS NOT NULL))[1] AS plan,
                   (array_agg(d.mrr ORDER BY d.last_payment_at DESC, d.product_id DESC)
                        FILTER (WHERE d.last_payment_at IS NOT NULL))[1] AS mrr,
                   max(d.last_cancel_at) AS last_cancel_at,
                   coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 7), 0) AS pv7,
                   coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 30), 0) AS pv30,
                   coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 7), 0) AS u7,
                   coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 30), 0) AS u30,
                   min(d.day) FILTER (WHERE d.day > v_today - 7
                                        AND (d.usage > 0 OR d.pricing_views > 0)) AS oldest7,
                   min(d.day) FILTER (WHERE d.day > v_today - 30
                                        AND (d.usage > 0 OR d.pricing_views > 0)) AS oldest30
            FROM shared._person_activity_row AS d
            WHERE NOT c.merged AND d.person_id = c.person_id
            HAVING NOT c.merged
        ) AS a ON true
    ), derived AS (
        SELECT g.*,
               shared._feature_paid(g.last_paid_at, g.last_cancel_at) AS is_paid,
               shared._feature_churned_at(g.last_paid_at, g.last_cancel_at, g.last_seen_at, p_now)
                   AS churned
        FROM agg AS g
    ), computed AS MATERIALIZED (
        SELECT d.*, coalesce(d.products, '{}') AS new_products,
               coalesce(d.events, 0) AS new_events,
               CASE WHEN d.is_paid THEN d.plan END AS new_plan,
               CASE WHEN d.is_paid THEN d.mrr END AS new_mrr,
               -- least() skips NULLs; marks already passed are not future changes.
               (SELECT min(m) FROM unnest(ARRAY[
                    CASE WHEN d.merged THEN d.known_next_change_at END,
                    shared._utc_midnight(d.oldest7 + 7),
                    shared._utc_midnight(d.oldest30 + 30),
                    d.first_seen_at + interval '3 days',
                    d.last_seen_at + interval '30 days',
                    d.churned + interval '30 days']) AS m
                WHERE m > p_now) AS new_next_change_at
        FROM derived AS d
    ), updated AS (
        -- The row read above, by its address: no second index probe, no conflict check.
        UPDATE shared.person_feature AS f SET
            products = d.new_products, first_seen_at = d.first_seen_at,
            last_seen_at = d.last_seen_at, last_activity_at = d.last_activity_at,
            events = d.new_events, activated_at = d.activated_at,
            first_paid_at = d.first_paid_at, last_paid_at = d.last_paid_at, paid = d.is_paid,
            plan = d.new_plan, mrr = d.new_mrr, churned_at = d.churned,
            pricing_views_7d = d.pv7, pricing_views_30d = d.pv30, usage_7d = d.u7,
            usage_30d = d.u30, lifecycle_stage = d.lifecycle_stage, computed_at = p_now,
            next_change_at = d.new_next_change_at, last_cancel_at = d.last_cancel_at
        FROM computed AS d
        WHERE d.known AND f.ctid = d.known_row
    ), inserted AS (
        -- Only this evaluation (under its lock) writes features: a person new to them has none.
        INSERT INTO shared.person_feature (
            person_id, products, first_seen_at, last_seen_at, last_activity_at, events,
            activated_at, first_paid_at, last_paid_at, paid, plan, mrr, churned_at,
            pricing_views_7d, pricing_views_30d, usage_7d, usage_30d, lifecycle_stage,
            computed_at, next_change_at, last_cancel_at)
        SELECT d.person_id, d.new_products, d.first_seen_at, d.last_seen_at,
               d.last_activity_at, d.new_events, d.activated_at, d.first_paid_at,
               d.last_paid_at, d.is_paid, d.new_plan, d.new_mrr, d.churned, d.pv7, d.pv30,
               d.u7, d.u30, d.lifecycle_stage, p_now, d.new_next_change_at, d.last_cancel_at
        FROM computed AS d
        WHERE NOT d.known
        ORDER BY d.person_id
    )
    -- What changed, by column, for the segments that read only some columns
    -- (shared._segment_feature_columns); NULL for the new and those a time mark reached, whom
    -- every segment re-evaluates. computed_at changes on every run.
    INSERT INTO pg_temp._segment_candidate_change (person_id, changed)
    SELECT x.person_id, CASE
        WHEN x.known AND (x.known_next_change_at IS NULL OR x.known_next_change_at > p_now)
        THEN array_remove(ARRAY[
            'computed_at',
            CASE WHEN x.new_products IS DISTINCT FROM x.known_products THEN 'products' END,
            CASE WHEN x.first_seen_at IS DISTINCT FROM x.known_first_seen_at THEN 'first_seen_at' END,
            CASE WHEN x.last_seen_at IS DISTINCT FROM x.known_last_seen_at THEN 'last_seen_at' END,
            CASE WHEN x.last_activity_at IS DISTINCT FROM x.known_last_activity_at
                 THEN 'last_activity_at' END,
            CASE WHEN x.new_events IS DISTINCT FROM x.known_events THEN 'events' END,
            CASE WHEN x.activated_at IS DISTINCT FROM x.known_activated_at THEN 'activated_at' END,
            CASE WHEN x.first_paid_at IS DISTINCT FROM x.known_first_paid_at THEN 'first_paid_at' END,
            CASE WHEN x.last_paid_at IS DISTINCT FROM x.known_last_paid_at THEN 'last_paid_at' END,
            CASE WHEN x.is_paid IS DISTINCT FROM x.known_paid THEN 'paid' END,
            CASE WHEN x.new_plan IS DISTINCT FROM x.known_plan THEN 'plan' END,
            CASE WHEN x.new_mrr IS DISTINCT FROM x.known_mrr THEN 'mrr' END,
            CASE WHEN x.churned IS DISTINCT FROM x.known_churned_at THEN 'churned_at' END,
            CASE WHEN x.pv7 IS DISTINCT FROM x.known_pricing_views_7d THEN 'pricing_views_7d' END,
            CASE WHEN x.pv30 IS DISTINCT FROM x.known_pricing_views_30d THEN 'pricing_views_30d' END,
            CASE WHEN x.u7 IS DISTINCT FROM x.known_usage_7d THEN 'usage_7d' END,
            CASE WHEN x.u30 IS DISTINCT FROM x.known_usage_30d THEN 'usage_30d' END,
            CASE WHEN x.lifecycle_stage IS DISTINCT FROM x.known_stage THEN 'lifecycle_stage' END,
            CASE WHEN x.new_next_change_at IS DISTINCT FROM x.known_next_change_at
                 THEN 'next_change_at' END,
            CASE WHEN x.last_cancel_at IS DISTINCT FROM x.known_last_cancel_at
                 THEN 'last_cancel_at' END], NULL) END
    FROM computed AS x;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;


--
-- Name: _refuse_foreign_product(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._refuse_foreign_product(p_product_id text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_claim text := shared.product_claim();
BEGIN
    IF v_claim IS NULL THEN
        PERFORM shared._raise('GD403', 'product_id',
            'this request carries no valid product credential (a gdp_product JWT from '
            '`gdp keys create PRODUCT --jwt` that is not revoked)');
    END IF;
    PERFORM shared._raise('GD403', 'product_id',
        format('a credential of %s writes only rows of %s, not %s',
               v_claim, v_claim, coalesce(p_product_id, 'NULL')));
    RETURN false;
END
$$;


--
-- Name: _require_actor(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._require_actor(p_actor text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    IF nullif(shared._trim(p_actor), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'actor', 'is required (who is making the change)');
    END IF;
    RETURN shared._trim(p_actor);
END
$$;


--
-- Name: _retention_batch_size(integer); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._retention_batch_size(p_batch_size integer) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT greatest(1, least(100000, coalesce(
        p_batch_size, (shared.setting_value('RETENTION_BATCH_SIZE'))::text::integer, 5000)))
$$;


--
-- Name: _retention_cutoff(text, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._retention_cutoff(p_setting_key text, p_as_of timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT least(coalesce(p_as_of, now()), now())
           - make_interval(days => (shared.setting_value(p_setting_key))::text::integer)
$$;


--
-- Name: _retention_lock_key(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._retention_lock_key() RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT 7305218801234001::bigint $$;


--
-- Name: _segment_duplicate_problem(uuid); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._segment_duplicate_problem(p_person_id uuid) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT format('returns person %s more than once; a segment returns each person once '
                  '(use DISTINCT or GROUP BY person_id)', p_person_id)
$$;


--
-- Name: _segment_feature_columns(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._segment_feature_columns(p_segment_id text) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    WITH rule AS (
        SELECT r.oid, r.ev_class, r.ev_action::text AS tree
        FROM pg_catalog.pg_rewrite AS r
        WHERE r.ev_class = to_regclass(format('segments.%I', p_segment_id))
          AND r.rulename = '_RETURN'
    ), row_by_row AS (
        SELECT r.tree !~ ':(hasAggs|hasWindowFuncs|hasSubLinks|hasTargetSRFs|hasDistinctOn) true'
               AND r.tree !~ ':(setOperations|limitCount|limitOffset) \{'
               AND r.tree !~ ':varattno 0 '
               -- person_feature once among the query's range table entries.
               AND regexp_count(r.tree, format(':rtekind 0 :relid %s ',
                                               'shared.person_feature'::regclass::oid)) = 1
               -- Functions and operators, built-ins included (pg_depend leaves those out):
               -- now() is stable, random() volatile.
               AND NOT EXISTS (
                   SELECT FROM shared._views_called_functions(ARRAY[r.ev_class]) AS k
                   JOIN pg_catalog.pg_proc AS f ON f.oid = k.function_id
                   WHERE f.provolatile = 'v') AS ok
        FROM rule AS r
    )
    SELECT CASE WHEN bool_and(
                    -- The view itself (its rule's old and new), person_feature's columns
                    -- (a whole-row use depends on the table, column 0), anything not a table.
                    d.refclassid <> 'pg_catalog.pg_class'::regclass
                    OR d.refobjid = r.ev_class
                    OR (d.refobjid = 'shared.person_feature'::regclass AND d.refobjsubid > 0))
                AND (SELECT w.ok FROM row_by_row AS w)
                THEN array_agg(a.attname::text ORDER BY a.attnum)
                         FILTER (WHERE a.attname IS NOT NULL) END
    FROM rule AS r
    JOIN pg_catalog.pg_depend AS d
      ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid AND d.deptype = 'n'
    LEFT JOIN pg_catalog.pg_attribute AS a
           ON d.refclassid = 'pg_catalog.pg_class'::regclass AND a.attrelid = d.refobjid
          AND a.attnum = d.refobjsubid AND d.refobjsubid > 0
$$;


--
-- Name: _segment_make_view(text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._segment_make_view(p_segment_id text, p_query text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
DECLARE
    v_query text := rtrim(p_query, E' \t\r\n;');
    v_cursor refcursor;
    v_problem text;
BEGIN
    IF p_segment_id IS NULL OR p_segment_id !~ '^[a-z][a-z0-9_]{1,62}$' THEN
        PERFORM shared._raise('GD400', 'segment', 'must be 2-63 characters: a lowercase letter, '
                              'then lowercase letters, digits or _');
    END IF;
    IF v_query IS NULL OR v_query = '' THEN
        PERFORM shared._raise('GD400', 'query', 'is empty; a segment is one SELECT returning person_id');
    END IF;
    BEGIN
        -- A cursor takes exactly one query that returns rows: a second statement smuggled in
        -- after a semicolon, or a command that is not a query, is refused here.
        OPEN v_cursor FOR EXECUTE v_query;
        CLOSE v_cursor;
        IF to_regclass(format('segments.%I', p_segment_id)) IS NOT NULL THEN
            EXECUTE format('DROP VIEW segments.%I', p_segment_id);
        END IF;
        EXECUTE format('CREATE VIEW segments.%I AS %s', p_segment_id, v_query);
    EXCEPTION
        WHEN SQLSTATE 'GD400' THEN RAISE;
        WHEN dependent_objects_still_exist THEN
            PERFORM shared._raise('GD409', 'segment', format(
                'other views read segments.%s; change or drop them first (%s)', p_segment_id,
                SQLERRM));
        WHEN OTHERS THEN
            PERFORM shared._raise('GD400', 'query', format(
                'must be one SELECT returning person_id: %s', SQLERRM));
    END;
    v_problem := shared._segment_view_problem(p_segment_id, true);
    IF v_problem IS NOT NULL THEN
        PERFORM shared._raise('GD400', 'query', v_problem);
    END IF;
END
$_$;


--
-- Name: _segment_member_changed(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._segment_member_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_change text := CASE TG_OP WHEN 'INSERT' THEN 'join' ELSE 'leave' END;
    v_run bigint := nullif(current_setting('gdp.segment_run', true), '')::bigint;
    v_msgs jsonb[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO shared.segment_history (segment_id, person_id, change, at, run_id)
        SELECT c.segment_id, c.person_id, 'join', c.joined_at, v_run FROM changed AS c;
    ELSE
        -- Rows deleted by an erasure or a segment's removal (the foreign keys) leave no history;
        -- an evaluation (v_run) deletes only rows whose person and segment it is looking at.
        INSERT INTO shared.segment_history (segment_id, person_id, change, at, run_id)
        SELECT c.segment_id, c.person_id, 'leave', now(), v_run FROM changed AS c
        WHERE v_run IS NOT NULL
           OR (EXISTS (SELECT 1 FROM shared.person AS p WHERE p.id = c.person_id)
               AND EXISTS (SELECT 1 FROM shared.segment AS s WHERE s.segment_id = c.segment_id));
    END IF;

    SELECT array_agg(jsonb_build_object(
               'segment_id', ch.segment_id, 'change', v_change, 'person_ids', ch.ids,
               'run_id', v_run, 'at', now(),
               'reason', CASE WHEN v_run IS NULL THEN 'erased' ELSE 'evaluated' END)
           ORDER BY ch.segment_id, ch.chunk)
    INTO v_msgs
    FROM (SELECT n.segment_id, n.chunk, array_agg(n.person_id ORDER BY n.person_id) AS ids
          FROM (SELECT c.segment_id, c.person_id,
                       (row_number() OVER (PARTITION BY c.segment_id ORDER BY c.person_id) - 1)
                           / 1000 AS chunk
                FROM changed AS c) AS n
          GROUP BY n.segment_id, n.chunk) AS ch;
    IF v_msgs IS NOT NULL THEN
        PERFORM pgmq.send_batch('segment_changes', v_msgs);
    END IF;
    RETURN NULL;
END
$$;


--
-- Name: _segment_view_problem(text, boolean); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._segment_view_problem(p_segment_id text, p_check_duplicates boolean) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
DECLARE
    v_view regclass := to_regclass(format('segments.%I', p_segment_id));
    v_views oid[];
    v_type text;
    v_bad text;
    v_dup uuid;
BEGIN
    IF v_view IS NULL OR (SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = v_view) <> 'v' THEN
        RETURN format('there is no view segments.%s', p_segment_id);
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO v_type
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = v_view AND a.attname = 'person_id' AND NOT a.attisdropped;
    IF v_type IS NULL THEN
        RETURN 'a segment view must return a person_id column';
    ELSIF v_type <> 'uuid' THEN
        RETURN format('person_id must be a uuid (shared.person.id), not %s', v_type);
    END IF;

    -- The view and every segment view it reads, through their rules (pg_depend): the rules
    -- the two checks below look into.
    WITH RECURSIVE views(oid) AS (
        SELECT v_view::oid
        UNION
        SELECT d.refobjid
        FROM views AS w
        JOIN pg_catalog.pg_rewrite AS r ON r.ev_class = w.oid
        JOIN pg_catalog.pg_depend AS d
          ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
         AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> w.oid
        JOIN pg_catalog.pg_class AS c ON c.oid = d.refobjid AND c.relkind IN ('v', 'm')
        JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace AND ns.nspname = 'segments'
    )
    SELECT array_agg(w.oid) INTO v_views FROM views AS w;

    -- Every relation those rules read.
    SELECT d.refobjid::regclass::text INTO v_bad
    FROM pg_catalog.pg_rewrite AS r
    JOIN pg_catalog.pg_depend AS d
      ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
     AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> r.ev_class
    JOIN pg_catalog.pg_class AS c ON c.oid = d.refobjid
    JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
    WHERE r.ev_class = ANY (v_views)
      AND NOT (ns.nspname = 'segments' AND c.relkind IN ('v', 'm'))
      AND (ns.nspname, c.relname) NOT IN (
          ('shared', 'person'), ('shared', 'person_feature'), ('shared', 'person_activity_daily'),
          ('shared', 'person_product_feature'), ('shared', 'person_event_count'),
          ('shared', 'event'), ('shared', 'identity_link'), ('shared', 'product'),
          ('shared', 'segment'), ('shared', 'segment_member'), ('shared', 'feature_event_kind'))
    ORDER BY 1
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RETURN format('reads %s; a segment may read only shared.person (the one place raw PII '
                      'may come from), the feature tables (shared.person_feature, '
                      'person_activity_daily, person_product_feature, person_event_count), '
                      'shared.event, identity_link, product, segment, segment_member and other '
                      'segment views', v_bad);
    END IF;

    -- The functions and operators those rules call: a function that runs a query of its own,
    -- reads a file or large object, or is not built in reads what the view names nowhere (and
    -- runs with the evaluation's rights). Built-ins, and the immutable helpers in shared, are
    -- allowed.
    SELECT p.oid::regprocedure::text INTO v_bad
    FROM shared._views_called_functions(v_views) AS k
    JOIN pg_catalog.pg_proc AS p ON p.oid = k.function_id
    JOIN pg_catalog.pg_namespace AS ns ON ns.oid = p.pronamespace
    WHERE p.proname ~ '^(query|cursor|table|schema|database)_to_xml'
       OR p.proname ~ '^(pg_read_file|pg_read_binary_file|pg_ls_|pg_stat_file|lo_)'
       OR NOT (ns.nspname = 'pg_catalog'
               OR (ns.nspname = 'shared' AND p.provolatile = 'i' AND NOT p.prosecdef))
    ORDER BY 1
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RETURN format('calls %s; a segment may call only built-in functions that read nothing '
                      'but their arguments (no query_to_xml and the like, no file or large '
                      'object reads) and the immutable helpers in shared', v_bad);
    END IF;

    IF p_check_duplicates THEN
        EXECUTE format('SELECT v.person_id FROM segments.%I AS v GROUP BY v.person_id '
                       'HAVING count(*) > 1 LIMIT 1', p_segment_id) INTO v_dup;
        IF v_dup IS NOT NULL THEN
            RETURN shared._segment_duplicate_problem(v_dup);
        END IF;
    END IF;
    RETURN NULL;
END
$$;


--
-- Name: _service_role_only(text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._service_role_only(p_table text, p_policy text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    EXECUTE format('REVOKE ALL ON shared.%I FROM PUBLIC, anon, authenticated', p_table);
    EXECUTE format('ALTER TABLE shared.%I ENABLE ROW LEVEL SECURITY', p_table);
    IF p_policy <> 'Only the service role can read or write ' || p_table THEN
        EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I',
                       'Only the service role can read or write ' || p_table, p_table);
    END IF;
    EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I', p_policy, p_table);
    EXECUTE format('CREATE POLICY %I ON shared.%I FOR ALL TO service_role USING (true) '
                   'WITH CHECK (true)', p_policy, p_table);
END
$$;


--
-- Name: _setting_present(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._setting_present(p_value jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT p_value IS NOT NULL
       AND p_value NOT IN ('null'::jsonb, '""'::jsonb, '{}'::jsonb, '[]'::jsonb)
$$;


--
-- Name: _settle_person_activity(date); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._settle_person_activity(p_before date) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
DECLARE
    v_rows bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM shared.person_activity_recent AS r WHERE r.day < p_before) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM shared.person_activity_recent AS r WHERE r.day < p_before RETURNING r.*
    )
    INSERT INTO shared.person_activity_settled AS a (
        person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
        first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at,
        event_counts, first_payment_at, last_usage_at)
    SELECT m.person_id, m.product_id, m.day, m.first_at, m.last_at, m.events, m.usage,
           m.pricing_views, m.first_activation_at, m.payments, m.last_payment_at, m.plan, m.mrr,
           m.last_cancel_at, m.event_counts, m.first_payment_at, m.last_usage_at
    FROM moved AS m
    ORDER BY m.person_id, m.product_id, m.day
    ON CONFLICT (person_id, product_id, day) DO UPDATE SET (
        first_at, last_at, events, usage, pricing_views, first_activation_at, payments,
        last_payment_at, plan, mrr, last_cancel_at, event_counts, first_payment_at, last_usage_at
    ) = (SELECT m.first_at, m.last_at, m.events, m.usage, m.pricing_views, m.first_activation_at,
                m.payments, m.last_payment_at, m.plan, m.mrr, m.last_cancel_at, m.event_counts,
                m.first_payment_at, m.last_usage_at
         FROM shared._activity_day_merged(ROW(a.*)::shared.person_activity_settled,
                                          ROW(excluded.*)::shared.person_activity_settled) AS m);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;


--
-- Name: _sha256_hex(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._sha256_hex(p_value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT encode(pg_catalog.sha256(convert_to(p_value, 'UTF8')), 'hex') $$;


--
-- Name: _trim(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._trim(p_value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT btrim(p_value, E' \t\n\r\f\x0B') $$;


--
-- Name: _try_iso_date(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._try_iso_date(p_value text) RETURNS date
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $_$
BEGIN
    IF p_value !~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN NULL;
    END IF;
    RETURN p_value::date;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$_$;


--
-- Name: _utc_day(timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._utc_day(p_at timestamp with time zone) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (p_at AT TIME ZONE 'UTC')::date $$;


--
-- Name: _utc_midnight(date); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._utc_midnight(p_day date) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT p_day::timestamp AT TIME ZONE 'UTC' $$;


--
-- Name: _views_called_functions(oid[]); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared._views_called_functions(p_views oid[]) RETURNS TABLE(function_id oid)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT DISTINCT CASE WHEN m[1] = 'opno' THEN o.oprcode::oid ELSE m[2]::oid END
    FROM pg_catalog.pg_rewrite AS r
    CROSS JOIN regexp_matches(r.ev_action::text, ':(funcid|aggfnoid|winfnoid|opno) (\d+)', 'g')
        AS m
    LEFT JOIN pg_catalog.pg_operator AS o ON m[1] = 'opno' AND o.oid = m[2]::oid
    WHERE r.ev_class = ANY (p_views)
$$;


--
-- Name: deploy_checklist_item; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.deploy_checklist_item (
    item_key text NOT NULL,
    "position" smallint NOT NULL,
    title text NOT NULL,
    acknowledged_by text,
    acknowledged_at timestamp with time zone,
    note text,
    CONSTRAINT deploy_checklist_item_ack_complete CHECK (((acknowledged_by IS NULL) = (acknowledged_at IS NULL))),
    CONSTRAINT deploy_checklist_item_key_format CHECK ((item_key ~ '^[a-z][a-z0-9_]+$'::text))
);


--
-- Name: acknowledge_checklist_item(text, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.acknowledge_checklist_item(p_item_key text, p_actor text, p_note text DEFAULT NULL::text) RETURNS shared.deploy_checklist_item
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_item shared.deploy_checklist_item;
BEGIN
    SELECT * INTO v_item FROM shared.deploy_checklist_item WHERE item_key = p_item_key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'item',
            format('no checklist item %s (see gdp checklist list)', p_item_key));
    END IF;
    IF v_item.acknowledged_at IS NOT NULL THEN
        RETURN v_item;
    END IF;
    UPDATE shared.deploy_checklist_item
    SET acknowledged_by = v_actor, acknowledged_at = now(), note = p_note
    WHERE item_key = p_item_key
    RETURNING * INTO v_item;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('checklist', p_item_key, v_actor, 'null',
            jsonb_build_object('acknowledged_by', v_actor), p_note);
    RETURN v_item;
END
$$;


--
-- Name: FUNCTION acknowledge_checklist_item(p_item_key text, p_actor text, p_note text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.acknowledge_checklist_item(p_item_key text, p_actor text, p_note text) IS 'Acknowledge a pre-deploy checklist item as a named admin (audited); flags that require it can then be enabled.';


--
-- Name: apply_retention(integer, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.apply_retention(p_batch_size integer DEFAULT NULL::integer, p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(target text, deleted bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
    -- Held by a run in another session: leave the work to it (no rows answered).
    IF NOT pg_catalog.pg_try_advisory_xact_lock(shared._retention_lock_key()) THEN
        RETURN;
    END IF;
    RETURN QUERY VALUES
        ('event', shared.retention_delete_events(p_batch_size, p_as_of)),
        ('attribution_events', shared.retention_delete_attribution_events(p_batch_size, p_as_of)),
        ('capi_dead_letter', shared.retention_delete_dead_letters(p_batch_size, p_as_of)),
        ('queue_archive', shared.retention_delete_queue_archives(p_batch_size, p_as_of));
END
$$;


--
-- Name: FUNCTION apply_retention(p_batch_size integer, p_as_of timestamp with time zone); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.apply_retention(p_batch_size integer, p_as_of timestamp with time zone) IS 'One round of retention: one batch of each table past its RETENTION_*_DAYS window, in one transaction; one row per table with the rows deleted, or no rows when another session is running retention.';


--
-- Name: assign_campaign_project(text, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.assign_campaign_project(p_campaign_id text, p_project_id text, p_actor text) RETURNS TABLE(campaign_id text, campaign_name text, project_id text, assigned_by text)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    UPDATE shared.campaign_project AS c
    SET project_id = p_project_id, assigned_by = p_actor, updated_at = now()
    WHERE c.campaign_id = p_campaign_id
    RETURNING c.campaign_id, c.campaign_name, c.project_id, c.assigned_by;
$$;


--
-- Name: FUNCTION assign_campaign_project(p_campaign_id text, p_project_id text, p_actor text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.assign_campaign_project(p_campaign_id text, p_project_id text, p_actor text) IS 'Map a campaign to a project by hand (gdp insights assign); pulls never change it afterwards. No row when the campaign is unknown.';


--
-- Name: audience_allow_removals(text, integer, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_allow_removals(p_segment_id text, p_max_removals integer, p_actor text, p_reason text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM 1 FROM shared.meta_audience WHERE segment_id = p_segment_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment', format('%s is not mapped to an audience',
                                                        p_segment_id));
    END IF;
    IF p_max_removals IS NULL OR p_max_removals < 1 THEN
        PERFORM shared._raise('GD400', 'max_removals', 'must be a whole number of at least 1');
    END IF;
    INSERT INTO shared.audience_removal_allowance (segment_id, max_removals, acknowledged_by, reason)
    VALUES (p_segment_id, p_max_removals, shared._require_actor(p_actor), p_reason)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;


--
-- Name: FUNCTION audience_allow_removals(p_segment_id text, p_max_removals integer, p_actor text, p_reason text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_allow_removals(p_segment_id text, p_max_removals integer, p_actor text, p_reason text) IS 'Acknowledge that the next sync of a segment may remove up to max_removals people (over the removal cap).';


--
-- Name: audience_change_counts(text, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_change_counts(p_segment_id text, p_since timestamp with time zone) RETURNS TABLE(removes bigint, candidates bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_segment text := p_segment_id;
    v_since timestamptz := p_since;
    v_removes bigint;
    v_new bigint;
    v_changed bigint;
BEGIN
    SELECT count(*) INTO v_removes FROM shared.audience_ack AS k
    WHERE k.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                      WHERE m.segment_id = v_segment AND m.person_id = k.person_id);
    v_removes := v_removes + (
        SELECT count(*) FROM shared._audience_withdrawn_ack AS k WHERE k.segment_id = v_segment);
    SELECT count(*) INTO v_new FROM shared.segment_member AS m
    WHERE m.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                      WHERE k.segment_id = v_segment AND k.person_id = m.person_id);
    IF v_since IS NULL THEN
        SELECT count(*) INTO v_changed FROM shared.audience_ack AS k
        JOIN shared.person AS p ON p.id = k.person_id
        WHERE k.segment_id = v_segment AND p.updated_at > k.person_updated_at;
    ELSE
        SELECT count(*) INTO v_changed FROM shared.person AS p
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = p.id
        WHERE p.updated_at > v_since AND p.updated_at > k.person_updated_at;
    END IF;
    RETURN QUERY SELECT v_removes, v_new + v_changed;
END
$$;


--
-- Name: FUNCTION audience_change_counts(p_segment_id text, p_since timestamp with time zone); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_change_counts(p_segment_id text, p_since timestamp with time zone) IS 'How many acknowledged people a run would remove (the removal guard), and about how many members it would add or re-check (an upper bound).';


--
-- Name: audience_changed_since(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_changed_since(p_segment_id text) RETURNS timestamp with time zone
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT CASE WHEN a.full_checked_at IS NULL OR a.full_checked_at < now() - interval '1 day'
                THEN NULL
                ELSE (SELECT coalesce(r.checked_from, r.started_at - interval '10 minutes')
                      FROM shared.audience_sync_run AS r
                      WHERE r.segment_id = p_segment_id AND r.status = 'succeeded'
                        AND r.kind = 'diff'
                      ORDER BY r.id DESC LIMIT 1) END
    FROM shared.meta_audience AS a WHERE a.segment_id = p_segment_id
$$;


--
-- Name: FUNCTION audience_changed_since(p_segment_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_changed_since(p_segment_id text) IS 'From when a sync of the segment looks for changed people and memberships (NULL: it re-checks every member).';


--
-- Name: audience_changes(text, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_changes(p_segment_id text, p_since timestamp with time zone) RETURNS TABLE(person_id uuid, op text, old_cells text[], email text, phone text, first_name text, last_name text, city text, state text, zip text, country text, date_of_birth date, gender text, person_updated_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_cursor refcursor := shared.audience_changes_open(p_segment_id, p_since, NULL);
BEGIN
    LOOP
        FETCH v_cursor INTO person_id, op, old_cells, email, phone, first_name, last_name, city,
                            state, zip, country, date_of_birth, gender, person_updated_at;
        EXIT WHEN NOT FOUND;
        RETURN NEXT;
    END LOOP;
    CLOSE v_cursor;
END
$$;


--
-- Name: FUNCTION audience_changes(p_segment_id text, p_since timestamp with time zone); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_changes(p_segment_id text, p_since timestamp with time zone) IS 'A sync''s changes as rows (what audience_changes_open''s cursor returns), for a dry run and for tests.';


--
-- Name: audience_changes_open(text, timestamp with time zone, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_changes_open(p_segment_id text, p_since timestamp with time zone, p_cursor text DEFAULT 'audience_changes'::text) RETURNS refcursor
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_cursor refcursor := p_cursor;
    v_segment text := p_segment_id;
    v_since timestamptz := p_since;
BEGIN
    IF v_since IS NULL THEN
        OPEN v_cursor NO SCROLL FOR
        SELECT k.person_id, 'remove'::text AS op, k.row_cells AS old_cells, NULL::text AS email,
               NULL::text AS phone, NULL::text AS first_name, NULL::text AS last_name,
               NULL::text AS city, NULL::text AS state, NULL::text AS zip, NULL::text AS country,
               NULL::date AS date_of_birth, NULL::text AS gender, k.person_updated_at
        FROM shared.audience_ack AS k
        WHERE k.segment_id = v_segment
          AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                          WHERE m.segment_id = v_segment AND m.person_id = k.person_id)
        UNION ALL
        SELECT k.person_id, 'remove', k.row_cells, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, k.person_updated_at
        FROM shared._audience_withdrawn_ack AS k
        WHERE k.segment_id = v_segment
        UNION ALL
        SELECT p.id, 'add', NULL, p.email, p.phone, p.first_name, p.last_name, p.city, p.state,
               p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM shared.segment_member AS m
        JOIN shared.person AS p ON p.id = m.person_id
        WHERE m.segment_id = v_segment AND p.consent_status <> 'withdrawn'
          AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                          WHERE k.segment_id = v_segment AND k.person_id = m.person_id)
        UNION ALL
        SELECT p.id, 'add', k.row_cells, p.email, p.phone, p.first_name, p.last_name, p.city,
               p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM shared.audience_ack AS k
        JOIN shared.person AS p ON p.id = k.person_id
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = p.id
        WHERE k.segment_id = v_segment AND p.consent_status <> 'withdrawn'
          AND p.updated_at > k.person_updated_at;
    ELSE
        OPEN v_cursor NO SCROLL FOR
        SELECT k.person_id, 'remove'::text AS op, k.row_cells AS old_cells, NULL::text AS email,
               NULL::text AS phone, NULL::text AS first_name, NULL::text AS last_name,
               NULL::text AS city, NULL::text AS state, NULL::text AS zip, NULL::text AS country,
               NULL::date AS date_of_birth, NULL::text AS gender, k.person_updated_at
        FROM (SELECT h.person_id FROM shared.segment_history AS h
              WHERE h.segment_id = v_segment AND h.at >= v_since
              UNION
              SELECT e.person_id FROM shared.audience_erased AS e
              WHERE e.segment_id = v_segment) AS c
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = c.person_id
        WHERE NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                          WHERE m.segment_id = v_segment AND m.person_id = k.person_id)
        UNION ALL
        SELECT k.person_id, 'remove', k.row_cells, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, k.person_updated_at
        FROM shared._audience_withdrawn_ack AS k
        WHERE k.segment_id = v_segment
        UNION ALL
        -- Who joined, and whose person row changed (a change of email, a consent given again).
        SELECT p.id, 'add', k.row_cells, p.email, p.phone, p.first_name, p.last_name, p.city,
               p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM (SELECT h.person_id FROM shared.segment_history AS h
              WHERE h.segment_id = v_segment AND h.at >= v_since
              UNION
              SELECT q.id FROM shared.person AS q WHERE q.updated_at > v_since) AS c
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = c.person_id
        JOIN shared.person AS p ON p.id = c.person_id
        LEFT JOIN shared.audience_ack AS k
            ON k.segment_id = v_segment AND k.person_id = c.person_id
        WHERE p.consent_status <> 'withdrawn'
          AND (k.person_id IS NULL OR p.updated_at > k.person_updated_at);
    END IF;
    RETURN v_cursor;
END
$$;


--
-- Name: FUNCTION audience_changes_open(p_segment_id text, p_since timestamp with time zone, p_cursor text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_changes_open(p_segment_id text, p_since timestamp with time zone, p_cursor text) IS 'Open a cursor over a sync''s changes, removals first: remove (left, withdrew consent, erased) with the row to remove; add (not acknowledged, or changed since) with the old row. Reads only memberships and people changed from p_since (NULL: every member). Fetch from it in the same transaction.';


--
-- Name: audience_sync_run; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.audience_sync_run (
    id bigint NOT NULL,
    segment_id text NOT NULL,
    audience_id text,
    kind text NOT NULL,
    status text DEFAULT 'running'::text NOT NULL,
    forced boolean DEFAULT false NOT NULL,
    reason text,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    members bigint,
    planned_adds integer DEFAULT 0 NOT NULL,
    planned_removes integer DEFAULT 0 NOT NULL,
    rows_added integer DEFAULT 0 NOT NULL,
    rows_removed integer DEFAULT 0 NOT NULL,
    requests integer DEFAULT 0 NOT NULL,
    retries integer DEFAULT 0 NOT NULL,
    num_received bigint DEFAULT 0 NOT NULL,
    num_invalid_entries bigint DEFAULT 0 NOT NULL,
    invalid_entry_samples jsonb DEFAULT '{}'::jsonb NOT NULL,
    session_id bigint,
    batch_seq integer DEFAULT 0 NOT NULL,
    estimated_num_total bigint,
    errors jsonb DEFAULT '{}'::jsonb NOT NULL,
    error_message text,
    changed_since timestamp with time zone,
    checked_from timestamp with time zone,
    CONSTRAINT audience_sync_run_errors CHECK ((jsonb_typeof(errors) = 'object'::text)),
    CONSTRAINT audience_sync_run_kind CHECK ((kind = ANY (ARRAY['diff'::text, 'replace'::text]))),
    CONSTRAINT audience_sync_run_samples CHECK ((jsonb_typeof(invalid_entry_samples) = 'object'::text)),
    CONSTRAINT audience_sync_run_status CHECK ((status = ANY (ARRAY['running'::text, 'succeeded'::text, 'failed'::text, 'refused'::text, 'waiting'::text, 'interrupted'::text])))
);


--
-- Name: TABLE audience_sync_run; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.audience_sync_run IS 'One row per audience sync run: rows added/removed, requests, Meta''s counts, errors by code.';


--
-- Name: COLUMN audience_sync_run.changed_since; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON COLUMN shared.audience_sync_run.changed_since IS 'The run re-checked people changed after this time; NULL: it re-checked every member.';


--
-- Name: COLUMN audience_sync_run.checked_from; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON COLUMN shared.audience_sync_run.checked_from IS 'The next run re-checks people and memberships changed from this time (the start of the oldest transaction open when this run began).';


--
-- Name: audience_finish_run(bigint, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_finish_run(p_run_id bigint, p_status text, p_message text DEFAULT NULL::text) RETURNS shared.audience_sync_run
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_row shared.audience_sync_run;
BEGIN
    IF p_status NOT IN ('succeeded', 'failed', 'refused', 'waiting') THEN
        PERFORM shared._raise('GD400', 'status', 'must be succeeded, failed, refused or waiting');
    END IF;
    UPDATE shared.audience_sync_run
    SET status = p_status, finished_at = now(), error_message = left(p_message, 1000)
    WHERE id = p_run_id
    RETURNING * INTO v_row;
    -- A replace is followed by a full check (audience_replace_complete): a session Meta timed
    -- out applied only what it had, and no history says who is missing.
    IF p_status = 'succeeded' AND v_row.changed_since IS NULL AND v_row.kind = 'diff' THEN
        UPDATE shared.meta_audience SET full_checked_at = v_row.started_at
        WHERE segment_id = v_row.segment_id;
    END IF;
    -- After a large change (a first upload, a replace), fresh statistics keep the next run's
    -- anti-joins on the right plan rather than waiting for autovacuum to notice.
    IF v_row.rows_added + v_row.rows_removed > greatest(10000, coalesce(v_row.members, 0) / 10) THEN
        ANALYZE shared.audience_ack;
    END IF;
    RETURN v_row;
END
$$;


--
-- Name: FUNCTION audience_finish_run(p_run_id bigint, p_status text, p_message text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_finish_run(p_run_id bigint, p_status text, p_message text) IS 'Finish a sync run with its status (succeeded, failed, refused, waiting) and message.';


--
-- Name: audience_members_page(text, uuid, integer); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_members_page(p_segment_id text, p_after uuid, p_limit integer) RETURNS TABLE(person_id uuid, email text, phone text, first_name text, last_name text, city text, state text, zip text, country text, date_of_birth date, gender text, person_updated_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT p.id, p.email, p.phone, p.first_name, p.last_name, p.city, p.state, p.zip, p.country,
           p.date_of_birth, p.gender, p.updated_at
    FROM shared.segment_member AS m
    JOIN shared.person AS p ON p.id = m.person_id
    WHERE m.segment_id = p_segment_id AND p.consent_status <> 'withdrawn'
      AND (p_after IS NULL OR m.person_id > p_after)
    ORDER BY m.person_id
    LIMIT greatest(1, least(coalesce(p_limit, 10000), 10000))
$$;


--
-- Name: FUNCTION audience_members_page(p_segment_id text, p_after uuid, p_limit integer); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_members_page(p_segment_id text, p_after uuid, p_limit integer) IS 'A page (at most 10,000) of a segment''s consenting members with their person columns, in person_id order after p_after.';


--
-- Name: audience_plan_run(bigint, integer, integer, bigint, bigint); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_plan_run(p_run_id bigint, p_adds integer, p_removes integer, p_session_id bigint, p_estimated_num_total bigint) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    UPDATE shared.audience_sync_run
    SET planned_adds = coalesce(p_adds, 0), planned_removes = coalesce(p_removes, 0),
        session_id = coalesce(p_session_id, session_id),
        estimated_num_total = coalesce(p_estimated_num_total, estimated_num_total)
    WHERE id = p_run_id
$$;


--
-- Name: FUNCTION audience_plan_run(p_run_id bigint, p_adds integer, p_removes integer, p_session_id bigint, p_estimated_num_total bigint); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_plan_run(p_run_id bigint, p_adds integer, p_removes integer, p_session_id bigint, p_estimated_num_total bigint) IS 'Record what a run is about to send: planned adds and removes, its session id and size hint.';


--
-- Name: audience_record_batch(bigint, text, jsonb, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_record_batch(p_run_id bigint, p_op text, p_rows jsonb, p_response jsonb DEFAULT '{}'::jsonb) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT shared.audience_record_rows(
        p_run_id, p_op,
        ARRAY(SELECT (x ->> 'p')::uuid FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e (x, n)
              ORDER BY n),
        ARRAY(SELECT pg_catalog.array_to_string(
                         ARRAY(SELECT jsonb_array_elements_text(x -> 'c')), ',')
              FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e (x, n) ORDER BY n),
        ARRAY(SELECT (x ->> 'u')::timestamptz
              FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e (x, n) ORDER BY n),
        p_response)
$$;


--
-- Name: FUNCTION audience_record_batch(p_run_id bigint, p_op text, p_rows jsonb, p_response jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_record_batch(p_run_id bigint, p_op text, p_rows jsonb, p_response jsonb) IS 'Record a batch Meta acknowledged (add, remove) or a re-check that changed nothing (touch), with Meta''s counts, in one transaction; rows as JSON (audience_record_rows takes arrays).';


--
-- Name: audience_record_count(text, bigint, bigint, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_record_count(p_segment_id text, p_lower bigint, p_upper bigint, p_drift_note text) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    UPDATE shared.meta_audience
    SET approximate_lower = p_lower, approximate_upper = p_upper, counted_at = now(),
        drift_note = coalesce(p_drift_note, drift_note),
        drift_detected_at = CASE WHEN p_drift_note IS NOT NULL
                                 THEN coalesce(drift_detected_at, now())
                                 ELSE drift_detected_at END
    WHERE segment_id = p_segment_id
$$;


--
-- Name: FUNCTION audience_record_count(p_segment_id text, p_lower bigint, p_upper bigint, p_drift_note text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_record_count(p_segment_id text, p_lower bigint, p_upper bigint, p_drift_note text) IS 'Store Meta''s approximate size of a segment''s audience; a drift note marks it for a full replace.';


--
-- Name: audience_record_error(bigint, integer, integer, boolean); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_record_error(p_run_id bigint, p_code integer, p_subcode integer, p_retried boolean) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    UPDATE shared.audience_sync_run AS r
    SET errors = r.errors || jsonb_build_object(
            k.key, coalesce((r.errors ->> k.key)::integer, 0) + 1),
        retries = r.retries + CASE WHEN p_retried THEN 1 ELSE 0 END
    FROM (SELECT coalesce(p_code::text, 'transport')
                 || coalesce('/' || p_subcode::text, '') AS key) AS k
    WHERE r.id = p_run_id
$$;


--
-- Name: FUNCTION audience_record_error(p_run_id bigint, p_code integer, p_subcode integer, p_retried boolean); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_record_error(p_run_id bigint, p_code integer, p_subcode integer, p_retried boolean) IS 'Count a Graph error of a run under its code (code/subcode; transport when Meta did not answer).';


--
-- Name: audience_record_rows(bigint, text, uuid[], text[], timestamp with time zone[], jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_record_rows(p_run_id bigint, p_op text, p_person_ids uuid[], p_cells text[], p_updated timestamp with time zone[], p_response jsonb DEFAULT '{}'::jsonb) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_segment text;
    v_count integer;
    v_new integer;
BEGIN
    SELECT r.segment_id INTO v_segment FROM shared.audience_sync_run AS r
    WHERE r.id = p_run_id AND r.status = 'running';
    IF NOT FOUND THEN
        PERFORM shared._raise('GD409', 'run_id', format('run %s is not running', p_run_id));
    END IF;
    IF p_op = 'add' THEN
        WITH upserted AS (
            INSERT INTO shared.audience_ack AS k
                (segment_id, person_id, row_cells, person_updated_at, via, run_id)
            SELECT v_segment, x.p, pg_catalog.string_to_array(x.c, ','), x.u, 'users', p_run_id
            FROM unnest(p_person_ids, p_cells, p_updated) AS x (p, c, u)
            ON CONFLICT ON CONSTRAINT audience_ack_pkey DO UPDATE
                SET row_cells = excluded.row_cells,
                    person_updated_at = excluded.person_updated_at,
                    via = 'users', run_id = p_run_id, acknowledged_at = now()
            RETURNING (k.xmax = 0) AS inserted
        )
        SELECT count(*), count(*) FILTER (WHERE inserted) INTO v_count, v_new FROM upserted;
        UPDATE shared.audience_sync_run SET rows_added = rows_added + v_count WHERE id = p_run_id;
        UPDATE shared.meta_audience
        SET first_upload_at = coalesce(first_upload_at, now()), acknowledged = acknowledged + v_new
        WHERE segment_id = v_segment;
    ELSIF p_op = 'remove' THEN
        DELETE FROM shared.audience_ack AS k
        USING unnest(p_person_ids, p_cells) AS x (p, c)
        WHERE k.segment_id = v_segment AND k.person_id = x.p
          AND k.row_cells = pg_catalog.string_to_array(x.c, ',');
        GET DIAGNOSTICS v_new = ROW_COUNT;
        UPDATE shared.meta_audience SET acknowledged = acknowledged - v_new
        WHERE segment_id = v_segment;
        -- An erased person whose row Meta removed is done with.
        DELETE FROM shared.audience_erased AS e
        WHERE e.segment_id = v_segment AND e.person_id = ANY (p_person_ids)
          AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                          WHERE k.segment_id = v_segment AND k.person_id = e.person_id);
        v_count := coalesce(cardinality(p_person_ids), 0);
        UPDATE shared.audience_sync_run SET rows_removed = rows_removed + v_count
        WHERE id = p_run_id;
    ELSIF p_op = 'touch' THEN
        UPDATE shared.audience_ack AS k SET person_updated_at = x.u
        FROM unnest(p_person_ids, p_updated) AS x (p, u)
        WHERE k.segment_id = v_segment AND k.person_id = x.p;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        RETURN v_count;
    ELSE
        PERFORM shared._raise('GD400', 'op', 'must be add, remove or touch');
    END IF;
    PERFORM shared._audience_count_response(p_run_id, p_response);
    RETURN v_count;
END
$$;


--
-- Name: FUNCTION audience_record_rows(p_run_id bigint, p_op text, p_person_ids uuid[], p_cells text[], p_updated timestamp with time zone[], p_response jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_record_rows(p_run_id bigint, p_op text, p_person_ids uuid[], p_cells text[], p_updated timestamp with time zone[], p_response jsonb) IS 'Record a batch Meta acknowledged (add, remove) or a re-check that changed nothing (touch), with Meta''s counts, in one transaction; rows as arrays (cells joined by commas).';


--
-- Name: audience_removal_count(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_removal_count(p_segment_id text) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT (SELECT count(*) FROM shared.audience_ack AS k
            WHERE k.segment_id = p_segment_id
              AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                              WHERE m.segment_id = p_segment_id AND m.person_id = k.person_id))
         + (SELECT count(*) FROM shared._audience_withdrawn_ack AS k
            WHERE k.segment_id = p_segment_id)
$$;


--
-- Name: FUNCTION audience_removal_count(p_segment_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_removal_count(p_segment_id text) IS 'How many acknowledged people the next sync of the segment would remove (left, withdrew consent, erased).';


--
-- Name: audience_replace_complete(bigint); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_replace_complete(p_run_id bigint) RETURNS TABLE(rows_added bigint, rows_removed bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_segment text;
    v_removed bigint;
    v_added bigint;
BEGIN
    SELECT r.segment_id INTO v_segment FROM shared.audience_sync_run AS r WHERE r.id = p_run_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'run_id', format('no run %s', p_run_id));
    END IF;
    SELECT count(*) INTO v_removed FROM shared.audience_ack AS k
    WHERE k.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.audience_replace_row AS x
                      WHERE x.segment_id = v_segment AND x.person_id = k.person_id);
    DELETE FROM shared.audience_ack WHERE segment_id = v_segment;
    INSERT INTO shared.audience_ack (segment_id, person_id, row_cells, person_updated_at, via, run_id)
    SELECT x.segment_id, x.person_id, x.row_cells, x.person_updated_at, 'replace', p_run_id
    FROM shared.audience_replace_row AS x WHERE x.segment_id = v_segment;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    DELETE FROM shared.audience_replace_row WHERE segment_id = v_segment;
    UPDATE shared.audience_sync_run
    SET rows_added = v_added, rows_removed = v_removed, status = 'succeeded',
        finished_at = now()
    WHERE id = p_run_id;
    UPDATE shared.meta_audience
    SET drift_detected_at = NULL, drift_note = NULL, acknowledged = v_added,
        first_upload_at = coalesce(first_upload_at, now()), updated_at = now(),
        full_checked_at = NULL
    WHERE segment_id = v_segment;
    DELETE FROM shared.audience_erased AS e
    WHERE e.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                      WHERE k.segment_id = v_segment AND k.person_id = e.person_id);
    RETURN QUERY SELECT v_added, v_removed;
END
$$;


--
-- Name: FUNCTION audience_replace_complete(p_run_id bigint); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_replace_complete(p_run_id bigint) IS 'A usersreplace session completed: the staged rows become what Meta acknowledged, in one transaction.';


--
-- Name: audience_replace_stage(bigint, integer, jsonb, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_replace_stage(p_run_id bigint, p_batch_seq integer, p_rows jsonb, p_response jsonb DEFAULT '{}'::jsonb) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_segment text;
    v_count integer;
BEGIN
    SELECT r.segment_id INTO v_segment FROM shared.audience_sync_run AS r
    WHERE r.id = p_run_id AND r.status = 'running' AND r.kind = 'replace';
    IF NOT FOUND THEN
        PERFORM shared._raise('GD409', 'run_id', format('replace run %s is not running', p_run_id));
    END IF;
    INSERT INTO shared.audience_replace_row AS x
        (segment_id, person_id, row_cells, person_updated_at, run_id)
    SELECT v_segment, (e ->> 'p')::uuid, ARRAY(SELECT jsonb_array_elements_text(e -> 'c')),
           (e ->> 'u')::timestamptz, p_run_id
    FROM jsonb_array_elements(p_rows) AS e
    ON CONFLICT ON CONSTRAINT audience_replace_row_pkey DO UPDATE
        SET row_cells = excluded.row_cells, person_updated_at = excluded.person_updated_at,
            run_id = p_run_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    UPDATE shared.audience_sync_run SET batch_seq = p_batch_seq WHERE id = p_run_id;
    PERFORM shared._audience_count_response(p_run_id, p_response);
    RETURN v_count;
END
$$;


--
-- Name: FUNCTION audience_replace_stage(p_run_id bigint, p_batch_seq integer, p_rows jsonb, p_response jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_replace_stage(p_run_id bigint, p_batch_seq integer, p_rows jsonb, p_response jsonb) IS 'Record a usersreplace batch Meta acknowledged: its rows are staged until the session completes.';


--
-- Name: audience_replace_state(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_replace_state(p_segment_id text) RETURNS TABLE(run_id bigint, session_id bigint, batch_seq integer, last_person_id uuid, staged bigint, started_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT r.id, r.session_id, r.batch_seq,
           (SELECT x.person_id FROM shared.audience_replace_row AS x
            WHERE x.segment_id = p_segment_id ORDER BY x.person_id DESC LIMIT 1),
           (SELECT count(*) FROM shared.audience_replace_row AS x
            WHERE x.segment_id = p_segment_id),
           r.started_at
    FROM shared.audience_sync_run AS r
    WHERE r.id = (SELECT max(l.id) FROM shared.audience_sync_run AS l
                  WHERE l.segment_id = p_segment_id AND l.kind = 'replace')
      AND r.session_id IS NOT NULL AND r.status IN ('running', 'interrupted')
$$;


--
-- Name: FUNCTION audience_replace_state(p_segment_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_replace_state(p_segment_id text) IS 'The usersreplace session left in flight for a segment (run, session, batch_seq, last staged person), if any.';


--
-- Name: audience_resume_run(bigint); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_resume_run(p_run_id bigint) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    UPDATE shared.audience_sync_run
    SET status = 'running', finished_at = NULL,
        error_message = 'resumed after the worker stopped mid-session'
    WHERE id = p_run_id
$$;


--
-- Name: FUNCTION audience_resume_run(p_run_id bigint); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_resume_run(p_run_id bigint) IS 'Mark an interrupted replace run running again (its session continues).';


--
-- Name: audience_schema(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_schema() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
    SELECT ARRAY['EMAIL', 'PHONE', 'FN', 'LN', 'CT', 'ST', 'ZIP', 'COUNTRY', 'DOBY', 'DOBM',
                 'DOBD', 'GEN', 'EXTERN_ID']
$$;


--
-- Name: FUNCTION audience_schema(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_schema() IS 'The multi-key schema of every audience row GDP sends, in the order acknowledged rows are stored.';


--
-- Name: audience_set_guards(text, integer, numeric); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_set_guards(p_segment_id text, p_min_size_first_upload integer DEFAULT NULL::integer, p_max_removed_share numeric DEFAULT NULL::numeric) RETURNS TABLE(segment_id text, min_size_first_upload integer, max_removed_share numeric)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
#variable_conflict use_column
BEGIN
    IF p_min_size_first_upload IS NOT NULL
       AND NOT p_min_size_first_upload BETWEEN 0 AND 100000000 THEN
        PERFORM shared._raise('GD400', 'min_size_first_upload',
                              'must be a whole number from 0 to 100,000,000');
    END IF;
    IF p_max_removed_share IS NOT NULL AND NOT p_max_removed_share BETWEEN 0 AND 1 THEN
        PERFORM shared._raise('GD400', 'max_removed_share',
                              'must be a share from 0 to 1 (0.2: a fifth of the audience)');
    END IF;
    IF p_min_size_first_upload IS NULL AND p_max_removed_share IS NULL THEN
        RETURN QUERY
        SELECT a.segment_id, a.min_size_first_upload, a.max_removed_share
        FROM shared.meta_audience AS a WHERE a.segment_id = p_segment_id;
    ELSE
        RETURN QUERY
        UPDATE shared.meta_audience AS a SET
            min_size_first_upload = coalesce(p_min_size_first_upload, a.min_size_first_upload),
            max_removed_share = coalesce(round(p_max_removed_share, 3), a.max_removed_share),
            updated_at = now()
        WHERE a.segment_id = p_segment_id
        RETURNING a.segment_id, a.min_size_first_upload, a.max_removed_share;
    END IF;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment', format('%s is not mapped to an audience',
                                                        p_segment_id));
    END IF;
END
$$;


--
-- Name: FUNCTION audience_set_guards(p_segment_id text, p_min_size_first_upload integer, p_max_removed_share numeric); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_set_guards(p_segment_id text, p_min_size_first_upload integer, p_max_removed_share numeric) IS 'Set a mapped segment''s guards (minimum size before the first upload, largest share removed in one run; NULL: unchanged) and return them.';


--
-- Name: audience_start_run(text, text, boolean, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_start_run(p_segment_id text, p_kind text, p_forced boolean, p_reason text DEFAULT NULL::text) RETURNS TABLE(run_id bigint, changed_since timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_id bigint;
    v_audience text;
    v_since timestamptz;
BEGIN
    SELECT a.audience_id INTO v_audience FROM shared.meta_audience AS a
    WHERE a.segment_id = p_segment_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment_id', format('%s is not mapped to an audience',
                                                           p_segment_id));
    END IF;
    -- The caller holds the segment's lock: a run still marked running was cut off.
    UPDATE shared.audience_sync_run
    SET status = 'interrupted', finished_at = now(),
        error_message = coalesce(error_message, 'the worker stopped mid-run')
    WHERE segment_id = p_segment_id AND status = 'running';
    IF p_kind = 'replace' THEN
        -- A new session: rows staged by an earlier one that failed are not what Meta will hold.
        DELETE FROM shared.audience_replace_row WHERE segment_id = p_segment_id;
    END IF;
    v_since := shared.audience_changed_since(p_segment_id);
    INSERT INTO shared.audience_sync_run
        (segment_id, audience_id, kind, forced, reason, members, changed_since, checked_from)
    VALUES (p_segment_id, v_audience, p_kind, coalesce(p_forced, false), p_reason,
            shared._audience_member_count(p_segment_id), v_since,
            shared._audience_checked_from())
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, v_since;
END
$$;


--
-- Name: FUNCTION audience_start_run(p_segment_id text, p_kind text, p_forced boolean, p_reason text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_start_run(p_segment_id text, p_kind text, p_forced boolean, p_reason text) IS 'Start a sync run (diff or replace) of a segment; runs left running by a stopped worker become interrupted.';


--
-- Name: audience_store_id(text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_store_id(p_segment_id text, p_audience_id text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    v_map jsonb := coalesce(shared.setting_value('META_CUSTOM_AUDIENCE_IDS'), '{}'::jsonb);
BEGIN
    IF coalesce(p_audience_id, '') !~ '^[0-9]{1,30}$' THEN
        PERFORM shared._raise('GD400', 'audience_id', 'must be digits');
    END IF;
    UPDATE shared.meta_audience SET audience_id = p_audience_id, updated_at = now()
    WHERE segment_id = p_segment_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment_id', format('no audience for %s', p_segment_id));
    END IF;
    PERFORM shared.set_setting('META_CUSTOM_AUDIENCE_IDS',
                               v_map || jsonb_build_object(p_segment_id, p_audience_id),
                               'gdp audience worker');
END
$_$;


--
-- Name: FUNCTION audience_store_id(p_segment_id text, p_audience_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_store_id(p_segment_id text, p_audience_id text) IS 'Store the id of the audience the worker created (or found by its marker) for a segment, in meta_audience and in META_CUSTOM_AUDIENCE_IDS.';


--
-- Name: audience_take_allowance(bigint, integer); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_take_allowance(p_run_id bigint, p_needed integer) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT a.id INTO v_id
    FROM shared.audience_removal_allowance AS a
    JOIN shared.audience_sync_run AS r ON r.segment_id = a.segment_id AND r.id = p_run_id
    WHERE a.used_by_run IS NULL AND a.max_removals >= p_needed
    ORDER BY a.id
    LIMIT 1
    FOR UPDATE OF a SKIP LOCKED;
    IF v_id IS NULL THEN
        RETURN false;
    END IF;
    UPDATE shared.audience_removal_allowance SET used_by_run = p_run_id WHERE id = v_id;
    RETURN true;
END
$$;


--
-- Name: FUNCTION audience_take_allowance(p_run_id bigint, p_needed integer); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_take_allowance(p_run_id bigint, p_needed integer) IS 'Use an admin''s unused removal acknowledgement that covers p_needed removals for this run.';


--
-- Name: audience_targets(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_targets(p_segment_id text DEFAULT NULL::text) RETURNS TABLE(segment_id text, audience_name text, audience_id text, create_marker text, min_size_first_upload integer, max_removed_share numeric, first_upload_at timestamp with time zone, drift_detected_at timestamp with time zone, members bigint, acknowledged bigint, replace_staged bigint, last_change_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    v_map jsonb := coalesce(shared.setting_value('META_CUSTOM_AUDIENCE_IDS'), '{}'::jsonb);
    v_key text;
    v_value text;
    v_name text;
    v_old text;
BEGIN
    IF jsonb_typeof(v_map) <> 'object' THEN
        v_map := '{}'::jsonb;
    END IF;
    FOR v_key, v_value IN SELECT e.key, nullif(e.value #>> '{}', '') FROM jsonb_each(v_map) AS e
    LOOP
        SELECT coalesce(s.audience_name, initcap(replace(s.segment_id, '_', ' ')))
        INTO v_name FROM shared.segment AS s WHERE s.segment_id = v_key;
        CONTINUE WHEN v_name IS NULL;
        IF v_value IS NOT NULL AND v_value !~ '^[0-9]{1,30}$' THEN
            PERFORM shared._raise('GD400', 'META_CUSTOM_AUDIENCE_IDS',
                format('%s: audience id must be digits, not %s', v_key, v_value));
        END IF;
        SELECT a.audience_id INTO v_old FROM shared.meta_audience AS a WHERE a.segment_id = v_key;
        IF NOT FOUND THEN
            INSERT INTO shared.meta_audience (segment_id, audience_id, audience_name)
            VALUES (v_key, v_value, v_name);
        ELSIF v_value IS NOT NULL AND v_old IS DISTINCT FROM v_value THEN
            IF v_old IS NOT NULL THEN
                -- Remapped: what another audience acknowledged says nothing about this one.
                DELETE FROM shared.audience_ack AS k WHERE k.segment_id = v_key;
                DELETE FROM shared.audience_replace_row AS x WHERE x.segment_id = v_key;
                DELETE FROM shared.audience_erased AS e WHERE e.segment_id = v_key;
                UPDATE shared.meta_audience AS a SET acknowledged = 0 WHERE a.segment_id = v_key;
            END IF;
            UPDATE shared.meta_audience AS a
            SET audience_id = v_value, first_upload_at = NULL, drift_detected_at = NULL,
                drift_note = NULL, full_checked_at = NULL, updated_at = now()
            WHERE a.segment_id = v_key;
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT a.segment_id, a.audience_name, a.audience_id, a.create_marker,
           a.min_size_first_upload, a.max_removed_share, a.first_upload_at, a.drift_detected_at,
           -- Members matter only to the size guard, before the first upload.
           CASE WHEN a.first_upload_at IS NULL
                THEN shared._audience_member_count(a.segment_id) END,
           a.acknowledged,
           (SELECT count(*) FROM shared.audience_replace_row AS r WHERE r.segment_id = a.segment_id),
           (SELECT max(r.finished_at) FROM shared.audience_sync_run AS r
            WHERE r.segment_id = a.segment_id AND r.status = 'succeeded'
              AND (r.rows_added > 0 OR r.rows_removed > 0))
    FROM shared.meta_audience AS a
    WHERE v_map ? a.segment_id AND (p_segment_id IS NULL OR a.segment_id = p_segment_id)
    ORDER BY a.segment_id;
END
$_$;


--
-- Name: FUNCTION audience_targets(p_segment_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_targets(p_segment_id text) IS 'The mapped segments and their audiences (made when missing), with member, acknowledged and staged counts and when a run last changed the audience; one segment or all.';


--
-- Name: audience_try_lock(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_try_lock(p_segment_id text) RETURNS boolean
    LANGUAGE sql
    SET search_path TO ''
    AS $$
    SELECT pg_catalog.pg_try_advisory_lock(
        pg_catalog.hashtextextended('gdp.audience_sync.' || p_segment_id, 0))
$$;


--
-- Name: FUNCTION audience_try_lock(p_segment_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_try_lock(p_segment_id text) IS 'Take the session advisory lock of a segment''s sync (false: another session syncs it now).';


--
-- Name: audience_unlock(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_unlock(p_segment_id text) RETURNS boolean
    LANGUAGE sql
    SET search_path TO ''
    AS $$
    SELECT pg_catalog.pg_advisory_unlock(
        pg_catalog.hashtextextended('gdp.audience_sync.' || p_segment_id, 0))
$$;


--
-- Name: FUNCTION audience_unlock(p_segment_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_unlock(p_segment_id text) IS 'Release the session advisory lock of a segment''s sync.';


--
-- Name: audience_unrecorded_requests(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_unrecorded_requests(p_segment_id text) RETURNS integer
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT count(*)::integer FROM shared.audience_sync_run AS r
    WHERE r.segment_id = p_segment_id AND r.kind = 'diff'
      AND r.status IN ('running', 'interrupted', 'failed')
      AND r.id > coalesce((SELECT max(s.id) FROM shared.audience_sync_run AS s
                           WHERE s.segment_id = p_segment_id AND s.status = 'succeeded'), 0)
$$;


--
-- Name: FUNCTION audience_unrecorded_requests(p_segment_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_unrecorded_requests(p_segment_id text) IS 'Diff runs of a segment cut off since its last successful run: each may have left one request applied at Meta but unrecorded (the drift check allows for them).';


--
-- Name: audience_worker_config(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.audience_worker_config() RETURNS TABLE(enabled boolean, ad_account_id text, audience_ids jsonb, interval_s integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT shared.is_enabled('META_CUSTOM_AUDIENCE_SYNC_ENABLED'),
           shared.setting_value('META_AD_ACCOUNT_ID') #>> '{}',
           coalesce(shared.setting_value('META_CUSTOM_AUDIENCE_IDS'), '{}'::jsonb),
           coalesce((shared.setting_value('SEGMENT_ENGINE_CRON_INTERVAL') #>> '{}')::integer, 300)
$$;


--
-- Name: FUNCTION audience_worker_config(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.audience_worker_config() IS 'What the audience worker runs by: the META_CUSTOM_AUDIENCE_SYNC_ENABLED flag, the ad account, the segment -> audience id map (META_CUSTOM_AUDIENCE_IDS) and the interval (the segment engine''s, SEGMENT_ENGINE_CRON_INTERVAL).';


--
-- Name: authenticate_dashboard_key(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.authenticate_dashboard_key(p_dashboard_key text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_row shared.dashboard_key;
BEGIN
    IF p_dashboard_key IS NULL OR length(p_dashboard_key) > 200 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_row FROM shared.dashboard_key
    WHERE key_sha256 = shared._sha256_hex(p_dashboard_key) AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_row.last_used_at IS NULL OR v_row.last_used_at < now() - interval '1 minute' THEN
        UPDATE shared.dashboard_key SET last_used_at = now() WHERE id = v_row.id;
    END IF;
    RETURN v_row.label;
END
$$;


--
-- Name: FUNCTION authenticate_dashboard_key(p_dashboard_key text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.authenticate_dashboard_key(p_dashboard_key text) IS 'The label of a live dashboard key, or NULL for an unknown or revoked one.';


--
-- Name: authenticate_service_key(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.authenticate_service_key(p_service_key text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_row shared.service_key;
BEGIN
    IF p_service_key IS NULL OR length(p_service_key) > 200 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_row FROM shared.service_key
    WHERE key_sha256 = shared._sha256_hex(p_service_key) AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_row.last_used_at IS NULL OR v_row.last_used_at < now() - interval '1 minute' THEN
        UPDATE shared.service_key SET last_used_at = now() WHERE id = v_row.id;
    END IF;
    RETURN v_row.product_id;
END
$$;


--
-- Name: FUNCTION authenticate_service_key(p_service_key text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.authenticate_service_key(p_service_key text) IS 'The product a presented service key belongs to, or NULL for an unknown or revoked key; refreshes last_used_at at most once a minute.';


--
-- Name: capi_claim_request(bigint[], integer[], integer); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.capi_claim_request(p_msg_ids bigint[], p_read_cts integer[], p_lock_timeout_ms integer DEFAULT 5000) RETURNS TABLE(msg_id bigint, event_ref bigint, verdict text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
#variable_conflict use_column
DECLARE
    v_held bigint[];
    v_held_refs bigint[];
    v_people uuid[];
    v_people_withdrawn boolean[];
    v_events bigint[];
    v_event_people uuid[];
BEGIN
    IF cardinality(p_msg_ids) IS DISTINCT FROM cardinality(p_read_cts) THEN
        PERFORM shared._raise('GD400', 'read_cts', 'must have one entry per message id');
    END IF;
    -- Waiting longer on a row another session holds (an erasure in progress) fails the check
    -- (55P03); the worker tries those events again later. For the rest of the transaction.
    PERFORM set_config('lock_timeout', format('%sms', greatest(p_lock_timeout_ms, 1)), true);
    SELECT array_agg(h.msg_id), array_agg(h.ref) INTO v_held, v_held_refs
    FROM (SELECT q.msg_id, (q.message ->> 'event')::bigint AS ref
          FROM pgmq.q_meta_capi AS q
          JOIN unnest(p_msg_ids, p_read_cts) AS m(id, read_ct)
            ON q.msg_id = m.id AND q.read_ct = m.read_ct
          ORDER BY q.msg_id
          FOR UPDATE OF q) AS h;

    -- A locked row is returned as its latest committed version (after waiting for a session
    -- that held it), so these read the state the request goes out with; a deleted row is absent.
    SELECT array_agg(p.id), array_agg(p.consent_status = 'withdrawn')
    INTO v_people, v_people_withdrawn
    FROM (SELECT p.id, p.consent_status FROM shared.person AS p
          WHERE p.id IN (SELECT e.person_id FROM shared.event AS e WHERE e.id = ANY (v_held_refs))
          ORDER BY p.id
          FOR KEY SHARE OF p) AS p;

    SELECT array_agg(e.id), array_agg(e.person_id) INTO v_events, v_event_people
    FROM (SELECT e.id, e.person_id FROM shared.event AS e
          WHERE e.id = ANY (v_held_refs)
          ORDER BY e.id
          FOR KEY SHARE OF e) AS e;

    RETURN QUERY
    SELECT m.id, h.ref,
           CASE WHEN h.msg_id IS NULL THEN 'lost'
                WHEN ev.id IS NULL OR (ev.person_id IS NOT NULL AND pe.id IS NULL) THEN 'gone'
                WHEN pe.withdrawn THEN 'withdrawn'
                ELSE 'send' END
    FROM unnest(p_msg_ids) AS m(id)
    LEFT JOIN unnest(v_held, v_held_refs) AS h(msg_id, ref) ON h.msg_id = m.id
    LEFT JOIN unnest(v_events, v_event_people) AS ev(id, person_id) ON ev.id = h.ref
    LEFT JOIN unnest(v_people, v_people_withdrawn) AS pe(id, withdrawn) ON pe.id = ev.person_id;
END
$$;


--
-- Name: FUNCTION capi_claim_request(p_msg_ids bigint[], p_read_cts integer[], p_lock_timeout_ms integer); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.capi_claim_request(p_msg_ids bigint[], p_read_cts integer[], p_lock_timeout_ms integer) IS 'Lock one Conversions API request''s messages (if still leased by the caller), people and events until the transaction that sends and settles the request ends; one verdict per message: send, gone (erased), withdrawn (consent) or lost (the lease passed to another reader).';


--
-- Name: capi_event_status(text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.capi_event_status(p_product_id text, p_event_id text) RETURNS TABLE(event_id text, product_id text, received_at timestamp with time zone, meta_event_name text, status text, attempt integer, pixel_id text, events_received integer, fbtrace_id text, error_code integer, error_subcode integer, error_message text, test_event_code text, updated_at timestamp with time zone)
    LANGUAGE sql STABLE
    AS $$
    SELECT e.event_id, e.product_id, e.received_at,
           coalesce(a.meta_event_name, q.message ->> 'meta_event_name', e.meta_event_name),
           coalesce(a.status, CASE WHEN q.msg_id IS NULL THEN 'stored'
                                   WHEN q.read_ct > 0 THEN 'retrying' ELSE 'queued' END),
           coalesce(a.attempt, q.read_ct), a.pixel_id, a.events_received, a.meta_fbtrace_id,
           a.error_code, a.error_subcode, a.error_message, a.test_event_code,
           coalesce(a.created_at, q.enqueued_at, e.received_at)
    FROM shared.event AS e
    LEFT JOIN LATERAL (
        SELECT * FROM shared.attribution_events AS ae
        WHERE ae.product_id = e.product_id AND ae.event_id = e.event_id
        ORDER BY ae.id DESC LIMIT 1
    ) AS a ON true
    LEFT JOIN LATERAL (
        SELECT qm.msg_id, qm.read_ct, qm.enqueued_at, qm.message FROM pgmq.q_meta_capi AS qm
        WHERE (qm.message ->> 'event')::bigint = e.id
        ORDER BY qm.msg_id DESC LIMIT 1
    ) AS q ON a.status IS NULL OR a.status IN ('retrying', 'held_auth')
    WHERE e.product_id = p_product_id AND e.event_id = p_event_id
$$;


--
-- Name: FUNCTION capi_event_status(p_product_id text, p_event_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.capi_event_status(p_product_id text, p_event_id text) IS 'Delivery status of one product event (GET /api/v1/meta/event/{event_id}): the latest outcome, queued or retrying while its message waits, or stored when nothing sends it to Meta.';


--
-- Name: capi_extend_leases(bigint[], integer[], integer); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.capi_extend_leases(p_msg_ids bigint[], p_read_cts integer[], p_vt_s integer) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    WITH mine AS (
        SELECT q.msg_id FROM pgmq.q_meta_capi AS q
        JOIN unnest(p_msg_ids, p_read_cts) AS m(id, read_ct)
          ON q.msg_id = m.id AND q.read_ct = m.read_ct
        FOR UPDATE OF q SKIP LOCKED
    ), extended AS (
        UPDATE pgmq.q_meta_capi AS q
        SET vt = clock_timestamp() + make_interval(secs => p_vt_s)
        FROM mine WHERE q.msg_id = mine.msg_id
        RETURNING 1
    )
    SELECT count(*)::integer FROM extended
$$;


--
-- Name: FUNCTION capi_extend_leases(p_msg_ids bigint[], p_read_cts integer[], p_vt_s integer); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.capi_extend_leases(p_msg_ids bigint[], p_read_cts integer[], p_vt_s integer) IS 'Extend the visibility timeout of messages the caller still leases (read_ct unchanged) to p_vt_s seconds from now, skipping those locked by a request in flight; returns how many.';


--
-- Name: capi_pixel_state; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.capi_pixel_state (
    pixel_id text NOT NULL,
    breaker text DEFAULT 'closed'::text NOT NULL,
    opened_at timestamp with time zone,
    last_probe_at timestamp with time zone,
    last_error_code integer,
    last_error_message text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT capi_pixel_state_breaker_known CHECK ((breaker = ANY (ARRAY['closed'::text, 'open'::text])))
);


--
-- Name: capi_set_breaker(text, text, integer, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.capi_set_breaker(p_pixel_id text, p_breaker text, p_error_code integer DEFAULT NULL::integer, p_error_message text DEFAULT NULL::text) RETURNS shared.capi_pixel_state
    LANGUAGE sql
    AS $$
    INSERT INTO shared.capi_pixel_state AS s
        (pixel_id, breaker, opened_at, last_probe_at, last_error_code, last_error_message)
    VALUES (p_pixel_id, p_breaker, CASE WHEN p_breaker = 'open' THEN now() END, now(),
            p_error_code, left(p_error_message, 500))
    ON CONFLICT (pixel_id) DO UPDATE SET
        breaker = excluded.breaker,
        opened_at = CASE WHEN excluded.breaker = 'open'
                         THEN coalesce(CASE WHEN s.breaker = 'open' THEN s.opened_at END, now()) END,
        last_probe_at = now(),
        last_error_code = coalesce(excluded.last_error_code, s.last_error_code),
        last_error_message = coalesce(excluded.last_error_message, s.last_error_message),
        updated_at = now()
    RETURNING *
$$;


--
-- Name: FUNCTION capi_set_breaker(p_pixel_id text, p_breaker text, p_error_code integer, p_error_message text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.capi_set_breaker(p_pixel_id text, p_breaker text, p_error_code integer, p_error_message text) IS 'Record a pixel''s circuit-breaker state (open with Meta''s error, or closed) for every CAPI worker to read.';


--
-- Name: create_dashboard_key(text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.create_dashboard_key(p_label text, p_actor text) RETURNS TABLE(key_id uuid, dashboard_key text, key_prefix text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_key text;
    v_id uuid;
BEGIN
    IF length(shared._trim(coalesce(p_label, ''))) NOT BETWEEN 1 AND 200 THEN
        PERFORM shared._raise('GD400', 'label', 'must name who or what the key is for (1-200 characters)');
    END IF;
    v_key := 'gdp_dk_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    INSERT INTO shared.dashboard_key (key_prefix, key_sha256, label, created_by)
    VALUES (left(v_key, 15), shared._sha256_hex(v_key), shared._trim(p_label), v_actor)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, v_key, left(v_key, 15);
END
$$;


--
-- Name: FUNCTION create_dashboard_key(p_label text, p_actor text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.create_dashboard_key(p_label text, p_actor text) IS 'Create a dashboard user''s key (gdp_dk_...): returned once, stored only as SHA-256.';


--
-- Name: product_credential; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.product_credential (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    product_id text NOT NULL,
    label text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text NOT NULL,
    expires_at timestamp with time zone,
    revoked_at timestamp with time zone,
    revoked_by text,
    CONSTRAINT product_credential_revocation_complete CHECK (((revoked_at IS NULL) = (revoked_by IS NULL)))
);


--
-- Name: TABLE product_credential; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.product_credential IS 'Product JWTs (gdp keys create --jwt) by their jti: listed and revoked here; the token is never stored';


--
-- Name: create_product_credential(text, text, text, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.create_product_credential(p_product_id text, p_actor text, p_label text DEFAULT NULL::text, p_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS shared.product_credential
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_row shared.product_credential;
BEGIN
    PERFORM 1 FROM shared.product WHERE product_id = p_product_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD400', 'product', format('%s is not a known product', p_product_id));
    END IF;
    IF p_expires_at IS NOT NULL AND p_expires_at <= now() THEN
        PERFORM shared._raise('GD400', 'expires_at', 'must be in the future');
    END IF;
    INSERT INTO shared.product_credential (product_id, label, created_by, expires_at)
    VALUES (p_product_id, p_label, v_actor, p_expires_at)
    RETURNING * INTO v_row;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('product_credential', v_row.id::text, v_actor, NULL, to_jsonb('created'::text),
            format('product %s', p_product_id));
    RETURN v_row;
END
$$;


--
-- Name: FUNCTION create_product_credential(p_product_id text, p_actor text, p_label text, p_expires_at timestamp with time zone); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.create_product_credential(p_product_id text, p_actor text, p_label text, p_expires_at timestamp with time zone) IS 'Register a product JWT (gdp keys create PRODUCT --jwt): returns the row whose id is the token''s jti. Audited.';


--
-- Name: create_service_key(text, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.create_service_key(p_product_id text, p_actor text, p_label text DEFAULT NULL::text) RETURNS TABLE(key_id uuid, service_key text, key_prefix text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_secret text;
    v_key text;
    v_id uuid;
BEGIN
    PERFORM 1 FROM shared.product WHERE product_id = p_product_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD400', 'product', format('%s is not a known product', p_product_id));
    END IF;
    v_secret := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    v_key := format('gdp_sk_%s_%s', p_product_id, v_secret);
    INSERT INTO shared.service_key (product_id, key_prefix, key_sha256, label, created_by)
    VALUES (p_product_id, left(v_key, length(p_product_id) + 16), shared._sha256_hex(v_key),
            p_label, v_actor)
    RETURNING id INTO v_id;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('service_key', v_id::text, v_actor, NULL, to_jsonb('created'::text),
            format('product %s', p_product_id));
    RETURN QUERY SELECT v_id, v_key, left(v_key, length(p_product_id) + 16);
END
$$;


--
-- Name: FUNCTION create_service_key(p_product_id text, p_actor text, p_label text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.create_service_key(p_product_id text, p_actor text, p_label text) IS 'Create a service key for a product: returned once (with its id and prefix), stored only as its SHA-256.';


--
-- Name: disable_flag(text, text, boolean, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.disable_flag(p_flag_key text, p_actor text, p_cascade boolean DEFAULT false, p_note text DEFAULT NULL::text) RETURNS shared.feature_flag
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_flag shared.feature_flag := shared._lock_flag(p_flag_key);
    v_dependents text[];
    v_dependent text;
BEGIN
    IF NOT v_flag.enabled THEN
        RETURN v_flag;
    END IF;
    SELECT array_agg(fp.flag_key ORDER BY f.enable_order DESC, fp.flag_key) INTO v_dependents
    FROM shared.feature_flag_prerequisite AS fp
    JOIN shared.feature_flag AS f ON f.flag_key = fp.flag_key
    WHERE fp.requires_flag_key = p_flag_key AND f.enabled;
    IF v_dependents IS NOT NULL THEN
        IF NOT p_cascade THEN
            PERFORM shared._raise('GD423', NULL,
                format('%s refused: %s depend on it and are on (disable them first, or cascade)',
                       p_flag_key, array_to_string(v_dependents, ', ')));
        END IF;
        FOREACH v_dependent IN ARRAY v_dependents LOOP
            PERFORM shared.disable_flag(v_dependent, v_actor, true,
                format('cascade from %s', p_flag_key));
        END LOOP;
    END IF;
    UPDATE shared.feature_flag
    SET enabled = false, changed_at = now(), changed_by = v_actor
    WHERE flag_key = p_flag_key
    RETURNING * INTO v_flag;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('flag', p_flag_key, v_actor, 'true', 'false', p_note);
    RETURN v_flag;
END
$$;


--
-- Name: FUNCTION disable_flag(p_flag_key text, p_actor text, p_cascade boolean, p_note text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.disable_flag(p_flag_key text, p_actor text, p_cascade boolean, p_note text) IS 'Disable a feature flag; refused while flags that depend on it are on, unless p_cascade switches them off first (each audited).';


--
-- Name: enable_flag(text, text, text[], text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.enable_flag(p_flag_key text, p_actor text, p_present_secrets text[] DEFAULT '{}'::text[], p_note text DEFAULT NULL::text) RETURNS shared.feature_flag
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_flag shared.feature_flag := shared._lock_flag(p_flag_key);
    v_blockers text[];
BEGIN
    IF v_flag.enabled THEN
        RETURN v_flag;
    END IF;
    v_blockers := shared.flag_blockers(p_flag_key, p_present_secrets);
    IF cardinality(v_blockers) > 0 THEN
        PERFORM shared._raise('GD423', NULL,
            format('%s refused: %s', p_flag_key, array_to_string(v_blockers, '; ')));
    END IF;
    UPDATE shared.feature_flag
    SET enabled = true, changed_at = now(), changed_by = v_actor
    WHERE flag_key = p_flag_key
    RETURNING * INTO v_flag;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('flag', p_flag_key, v_actor, 'false', 'true', p_note);
    RETURN v_flag;
END
$$;


--
-- Name: FUNCTION enable_flag(p_flag_key text, p_actor text, p_present_secrets text[], p_note text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.enable_flag(p_flag_key text, p_actor text, p_present_secrets text[], p_note text) IS 'Enable a feature flag through the deployment gate: refused (GD423) naming everything missing; audited with the actor and note.';


--
-- Name: erase_person(uuid, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.erase_person(p_person_id uuid, p_requested_by text, p_reason text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_person shared.person;
    v_erasure_id bigint;
BEGIN
    IF nullif(shared._trim(p_requested_by), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'requested_by', 'is required (who asked for the erasure)');
    END IF;
    DELETE FROM shared.person WHERE id = p_person_id RETURNING * INTO v_person;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;
    INSERT INTO shared.erasure (person_id, email_sha256, phone_sha256, requested_by, reason)
    VALUES (v_person.id,
            shared._sha256_hex(v_person.email),
            shared._sha256_hex(shared._meta_phone_digits(v_person.phone)),
            shared._trim(p_requested_by), p_reason)
    RETURNING id INTO v_erasure_id;
    PERFORM shared._erase_by_meta_hash(shared._sha256_hex(v_person.email),
                                       shared._sha256_hex(shared._meta_phone_digits(v_person.phone)));
    RETURN v_erasure_id;
END
$$;


--
-- Name: FUNCTION erase_person(p_person_id uuid, p_requested_by text, p_reason text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.erase_person(p_person_id uuid, p_requested_by text, p_reason text) IS 'Erase a person (GDPR): the person, identity links, consent log and events go, delivery records lose the person; an erasure record keeps only Meta-format hashes of email and phone for audience removal. Returns the erasure id.';


--
-- Name: erase_person_by_email(text, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.erase_person_by_email(p_email text, p_requested_by text, p_reason text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_person_id uuid;
BEGIN
    SELECT id INTO v_person_id FROM shared.person WHERE email = shared._normalize_email(p_email);
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'email', 'no person with this email');
    END IF;
    RETURN shared.erase_person(v_person_id, p_requested_by, p_reason);
END
$$;


--
-- Name: FUNCTION erase_person_by_email(p_email text, p_requested_by text, p_reason text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.erase_person_by_email(p_email text, p_requested_by text, p_reason text) IS 'erase_person for the person with this email (normalized as stored).';


--
-- Name: evaluate_segments(boolean); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.evaluate_segments(p_full boolean DEFAULT false) RETURNS TABLE(run_id bigint, segment_id text, members bigint, joined bigint, "left" bigint, error text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET work_mem TO '256MB'
    SET random_page_cost TO '1.1'
    SET jit TO 'off'
    AS $_$
#variable_conflict use_column
DECLARE
    v_run bigint;
    v_now timestamptz := now();
    v_t0 timestamptz;
    v_candidates integer;
    v_features_ms numeric;
    v_seg record;
    v_problem text;
    v_members bigint;
    v_joined bigint;
    v_left bigint;
    v_join uuid[];
    v_leave uuid[];
    v_dup uuid;
    v_stats jsonb := '{}'::jsonb;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('gdp.evaluate_segments')) THEN
        PERFORM shared._raise('GD409', 'segments', 'another evaluation is running');
    END IF;
    INSERT INTO shared.segment_run (mode) VALUES (CASE WHEN p_full THEN 'full' ELSE 'incremental' END)
    RETURNING segment_run.run_id INTO v_run;
    PERFORM set_config('gdp.segment_run', v_run::text, true);

    v_t0 := clock_timestamp();
    IF to_regclass('pg_temp._segment_candidate') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_candidate;
    END IF;
    -- person_changed: the person row was inserted or updated since the last run.
    -- added_*: what the person's new events add (shared._fold_new_events).
    CREATE TEMP TABLE _segment_candidate (
        person_id uuid PRIMARY KEY, person_changed boolean NOT NULL DEFAULT false,
        added_products text[], added_first_at timestamptz, added_last_at timestamptz,
        added_last_activity_at timestamptz, added_events bigint,
        added_activated_at timestamptz, added_first_paid_at timestamptz,
        added_last_paid_at timestamptz, added_plan text, added_mrr numeric(14,2),
        added_last_cancel_at timestamptz, added_pricing_views_7d bigint,
        added_pricing_views_30d bigint, added_usage_7d bigint, added_usage_30d bigint,
        added_oldest_7d date, added_oldest_30d date
    ) ON COMMIT DROP;
    IF to_regclass('pg_temp._segment_candidate_change') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_candidate_change;
    END IF;
    -- Per candidate, the person_feature columns the refresh changed (NULL: re-evaluate every
    -- segment); written by shared._refresh_person_features, read by the segments below.
    CREATE TEMP TABLE _segment_candidate_change (person_id uuid NOT NULL, changed text[])
        ON COMMIT DROP;
    IF to_regclass('pg_temp._segment_new_event') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_new_event;
    END IF;
    CREATE TEMP TABLE _segment_new_event (id bigint PRIMARY KEY) ON COMMIT DROP;
    -- Only committed rows are deleted (and their events, committed with them, are seen by the
    -- statements below); a statement committing meanwhile stays in the log for the next run.
    WITH drained AS (
        DELETE FROM shared.segment_change_log
        RETURNING event_ids, event_id_first, event_id_last, person_ids
    ), new_events AS (
        INSERT INTO pg_temp._segment_new_event
        SELECT u.id FROM drained AS d, unnest(d.event_ids) AS u(id)
        UNION
        SELECT g.id FROM drained AS d, generate_series(d.event_id_first, d.event_id_last) AS g(id)
        RETURNING 1
    )
    INSERT INTO pg_temp._segment_candidate (person_id, person_changed)
    SELECT DISTINCT u.id, true FROM drained AS d, unnest(d.person_ids) AS u(id);
    ANALYZE pg_temp._segment_new_event;
    -- The first run of a UTC day settles the days before it (late events' days any run).
    PERFORM shared._settle_person_activity(shared._utc_day(v_now));
    PERFORM shared._fold_new_events(v_now);
    INSERT INTO pg_temp._segment_candidate (person_id)
    SELECT f.person_id FROM shared.person_feature AS f WHERE f.next_change_at <= v_now
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_candidates = ROW_COUNT;
    SELECT count(*) INTO v_candidates FROM pg_temp._segment_candidate;
    ANALYZE pg_temp._segment_candidate (person_id, person_changed);
    PERFORM shared._refresh_person_features(v_now);
    ANALYZE pg_temp._segment_candidate_change;
    v_features_ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
    -- An incremental run reads the candidates' memberships of every segment once, through the
    -- person index (one probe per candidate rather than one per candidate and segment). Each
    -- segment below reads only its own rows, which no earlier step of the loop changes.
    IF to_regclass('pg_temp._segment_candidate_member') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_candidate_member;
    END IF;
    IF NOT p_full THEN
        CREATE TEMP TABLE _segment_candidate_member ON COMMIT DROP AS
            SELECT m.segment_id, m.person_id, c.changed
            FROM pg_temp._segment_candidate_change AS c
            JOIN shared.segment_member AS m ON m.person_id = c.person_id;
        ANALYZE pg_temp._segment_candidate_member (segment_id, person_id);
    END IF;

    FOR v_seg IN SELECT s.segment_id FROM shared.segment AS s WHERE s.enabled
                 ORDER BY s.segment_id LOOP
        v_t0 := clock_timestamp();
        v_members := NULL;
        BEGIN
            -- Held to the end: a segment_define replacing the view waits, so the view checked
            -- and whose columns are read is the one evaluated.
            IF to_regclass(format('segments.%I', v_seg.segment_id)) IS NOT NULL THEN
                EXECUTE format('LOCK TABLE segments.%I IN ACCESS SHARE MODE', v_seg.segment_id);
            END IF;
            v_problem := shared._segment_view_problem(v_seg.segment_id, false);
            IF v_problem IS NOT NULL THEN
                PERFORM shared._raise('GD400', 'segment', v_problem);
            END IF;
            -- One pass over the view and the segment's members (a full join on person_id):
            -- who joins, who leaves and, in a full run, how many are in. Then two plain
            -- statements change only those rows (each fires the history and queue trigger).
            -- In an incremental run the members come from the candidates' memberships read
            -- above: joined to the segment's rows inside the full join, the planner read the
            -- segment's whole member index to hash it (60-95 ms per large segment at a million
            -- people). Both sides take the same candidates: those one of the columns the view
            -- reads changed for ($2, NULL when it is not a row-by-row filter of
            -- person_feature), or every segment's (changed IS NULL).
            IF p_full THEN
                EXECUTE format($q$
                    SELECT count(cur.person_id),
                           array_agg(cur.person_id ORDER BY cur.person_id)
                               FILTER (WHERE mem.person_id IS NULL),
                           array_agg(mem.person_id) FILTER (WHERE cur.person_id IS NULL),
                           (array_agg(cur.person_id) FILTER (WHERE cur.n > 1))[1]
                    FROM (SELECT v.person_id, count(*) AS n FROM segments.%I AS v
                          WHERE v.person_id IS NOT NULL GROUP BY v.person_id) AS cur
                    FULL JOIN (SELECT m.person_id FROM shared.segment_member AS m
                               WHERE m.segment_id = $1) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg.segment_id)
                INTO v_members, v_join, v_leave, v_dup
                USING v_seg.segment_id;
            ELSE
                EXECUTE format($q$
                    SELECT array_agg(cur.person_id ORDER BY cur.person_id)
                               FILTER (WHERE mem.person_id IS NULL),
                           array_agg(mem.person_id) FILTER (WHERE cur.person_id IS NULL),
                           (array_agg(cur.person_id) FILTER (WHERE cur.n > 1))[1]
                    FROM (SELECT v.person_id, count(*) AS n FROM segments.%I AS v
                          JOIN pg_temp._segment_candidate_change AS c ON c.person_id = v.person_id
                          WHERE $2::text[] IS NULL OR c.changed IS NULL OR c.changed && $2
                          GROUP BY v.person_id) AS cur
                    FULL JOIN (SELECT cm.person_id FROM pg_temp._segment_candidate_member AS cm
                               WHERE cm.segment_id = $1
                                 AND ($2::text[] IS NULL OR cm.changed IS NULL
                                      OR cm.changed && $2)) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg.segment_id)
                INTO v_join, v_leave, v_dup
                USING v_seg.segment_id, shared._segment_feature_columns(v_seg.segment_id);
            END IF;
            -- A view made with plain SQL is refused here as segment_define refuses it: counted
            -- in the same pass (the people it returns for this run's candidates, or everyone).
            IF v_dup IS NOT NULL THEN
                PERFORM shared._raise('GD400', 'segment', shared._segment_duplicate_problem(v_dup));
            END IF;
            DELETE FROM shared.segment_member AS m
            USING unnest(v_leave) AS u(person_id)
            WHERE m.segment_id = v_seg.segment_id AND m.person_id = u.person_id;
            GET DIAGNOSTICS v_left = ROW_COUNT;
            INSERT INTO shared.segment_member (segment_id, person_id, joined_at)
            SELECT v_seg.segment_id, u.person_id, v_now FROM unnest(v_join) AS u(person_id);
            GET DIAGNOSTICS v_joined = ROW_COUNT;
            UPDATE shared.segment AS s SET last_evaluated_at = v_now, last_error = NULL
            WHERE s.segment_id = v_seg.segment_id;
            v_stats := v_stats || jsonb_build_object(v_seg.segment_id, jsonb_build_object(
                'members', v_members, 'joined', v_joined, 'left', v_left,
                'ms', round((extract(epoch FROM clock_timestamp() - v_t0) * 1000)::numeric, 1)));
            RETURN QUERY SELECT v_run, v_seg.segment_id, v_members, v_joined, v_left, NULL::text;
        EXCEPTION WHEN OTHERS THEN
            UPDATE shared.segment AS s SET last_error = left(SQLERRM, 500)
            WHERE s.segment_id = v_seg.segment_id;
            v_stats := v_stats || jsonb_build_object(v_seg.segment_id,
                                                     jsonb_build_object('error', left(SQLERRM, 500)));
            RETURN QUERY SELECT v_run, v_seg.segment_id, NULL::bigint, 0::bigint, 0::bigint,
                                left(SQLERRM, 500);
        END;
    END LOOP;

    UPDATE shared.segment_run AS r SET
        finished_at = clock_timestamp(), candidates = v_candidates,
        features_ms = round(v_features_ms, 1), segments = v_stats,
        joined = coalesce((SELECT sum((e.value ->> 'joined')::bigint) FROM jsonb_each(v_stats) AS e), 0),
        "left" = coalesce((SELECT sum((e.value ->> 'left')::bigint) FROM jsonb_each(v_stats) AS e), 0)
    WHERE r.run_id = v_run;
    PERFORM set_config('gdp.segment_run', '', true);
END
$_$;


--
-- Name: FUNCTION evaluate_segments(p_full boolean); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.evaluate_segments(p_full boolean) IS 'Evaluate the enabled segments: recompute the features of persons that changed or whose time windows crossed, update shared.segment_member (history rows, pgmq segment_changes messages) for those persons (p_full: for everyone); one run at a time; returns one row per segment.';


--
-- Name: event_limit(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.event_limit(p_name text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE p_name
        WHEN 'event_id_length' THEN 200          -- characters
        WHEN 'url_length' THEN 2048              -- event_source_url, client_user_agent
        WHEN 'meta_text_length' THEN 1000        -- content_name and Meta's other custom_data text
        WHEN 'property_text_length' THEN 8192    -- any other text in properties
        WHEN 'property_depth' THEN 8             -- nested objects and arrays in properties
        WHEN 'future_seconds' THEN 60            -- occurred_at ahead of now (clock skew)
    END
$$;


--
-- Name: FUNCTION event_limit(p_name text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.event_limit(p_name text) IS 'The limits every event path applies (SQL and HTTP alike): event_id_length, url_length, meta_text_length, property_text_length, property_depth, future_seconds.';


--
-- Name: flag_blockers(text, text[]); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.flag_blockers(p_flag_key text, p_present_secrets text[] DEFAULT '{}'::text[]) RETURNS text[]
    LANGUAGE sql STABLE
    AS $$
    SELECT array_remove(ARRAY[
        (SELECT 'prerequisites off: ' || string_agg(format('%s (%s)', r.flag_key, r.gap), ', '
                                                    ORDER BY r.enable_order, r.flag_key)
         FROM shared.feature_flag_prerequisite AS fp
         JOIN shared.feature_flag AS r ON r.flag_key = fp.requires_flag_key
         WHERE fp.flag_key = p_flag_key AND NOT r.enabled),
        (SELECT 'settings absent: ' || string_agg(req.key, ', ' ORDER BY req.key)
         FROM shared.feature_flag AS f
         CROSS JOIN LATERAL unnest(f.required_settings) AS req(key)
         WHERE f.flag_key = p_flag_key
           AND NOT EXISTS (SELECT 1 FROM shared.setting AS s
                           WHERE s.setting_key = req.key AND shared._setting_present(s.value))),
        (SELECT 'secrets not configured in the environment: '
                || string_agg(req.key, ', ' ORDER BY req.key)
         FROM shared.feature_flag AS f
         CROSS JOIN LATERAL unnest(f.required_secrets) AS req(key)
         WHERE f.flag_key = p_flag_key AND req.key <> ALL (coalesce(p_present_secrets, '{}'))),
        (SELECT 'checklist items not acknowledged: '
                || string_agg(c.item_key, ', ' ORDER BY c.position)
         FROM shared.feature_flag_checklist AS fc
         JOIN shared.deploy_checklist_item AS c ON c.item_key = fc.item_key
         WHERE fc.flag_key = p_flag_key AND c.acknowledged_at IS NULL)
    ], NULL)
$$;


--
-- Name: FUNCTION flag_blockers(p_flag_key text, p_present_secrets text[]); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.flag_blockers(p_flag_key text, p_present_secrets text[]) IS 'What stands between a flag and enabled, as readable reasons (prerequisites off, settings missing, secrets absent from p_present_secrets, checklist items not acknowledged); empty when nothing does.';


--
-- Name: gate_report(text[]); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.gate_report(p_present_secrets text[] DEFAULT '{}'::text[]) RETURNS TABLE(flag_key text, gap text, enable_order smallint, enabled boolean, changed_at timestamp with time zone, changed_by text, blockers text[])
    LANGUAGE sql STABLE
    AS $$
    SELECT f.flag_key, f.gap, f.enable_order, f.enabled, f.changed_at, f.changed_by,
           CASE WHEN f.enabled THEN '{}'::text[]
                ELSE shared.flag_blockers(f.flag_key, p_present_secrets) END
    FROM shared.feature_flag AS f
    ORDER BY f.enable_order, f.flag_key
$$;


--
-- Name: FUNCTION gate_report(p_present_secrets text[]); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.gate_report(p_present_secrets text[]) IS 'Every feature flag in the PRD''s enable order with its state, who changed it last, and what would block enabling it now (gdp flags list).';


--
-- Name: ingest_events(text, jsonb, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.ingest_events(p_product_id text, p_events jsonb, p_source text DEFAULT 'server'::text) RETURNS TABLE(ordinal integer, event_ref bigint, event_id text, person_id uuid, outcome text)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
DECLARE
    v_people jsonb;
    v_person_ords integer[];
    v_person_ids uuid[];
BEGIN
    PERFORM 1 FROM shared.product AS pr WHERE pr.product_id = p_product_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD400', 'product', format('%s is not a known product', p_product_id));
    END IF;
    IF p_events IS NULL OR jsonb_typeof(p_events) <> 'array' THEN
        PERFORM shared._raise('GD400', 'events', 'must be a JSON array');
    END IF;

    SELECT jsonb_agg(e.v -> 'person' ORDER BY e.ord), array_agg(e.ord::integer ORDER BY e.ord)
    INTO v_people, v_person_ords
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(v, ord)
    WHERE jsonb_typeof(e.v -> 'person') = 'object';
    IF v_people IS NOT NULL THEN
        SELECT array_agg(u.person_id ORDER BY u.ordinal) INTO v_person_ids
        FROM shared.upsert_people(v_people) AS u;
    END IF;

    -- Lock the people named by id before reading them (an erasure in flight either finishes
    -- first, and they are unknown_person, or waits for this transaction).
    PERFORM shared._lock_people(ARRAY(
        SELECT (e.v ->> 'person_id')::uuid FROM jsonb_array_elements(p_events) AS e(v)
        WHERE jsonb_typeof(e.v -> 'person') IS DISTINCT FROM 'object'
          AND e.v ->> 'person_id' IS NOT NULL));

    -- One statement, no temp table: a busy endpoint must not churn the catalog.
    RETURN QUERY
    WITH src AS (
        SELECT e.ord::integer AS ord, e.v, e.v ->> 'event_id' AS eid,
               coalesce(v_person_ids[array_position(v_person_ords, e.ord::integer)],
                        (e.v ->> 'person_id')::uuid) AS pid
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(v, ord)
    ), checked AS (
        -- Probed per row through the primary key (LATERAL … LIMIT 1 is never flattened into a
        -- join): a join or hashed subplan would read all of shared.person on every call, and
        -- the planner picks one whenever the table's statistics are older than its growth.
        SELECT s.*, (s.pid IS NULL OR found.pid IS NOT NULL) AS known,
               min(s.ord) OVER (PARTITION BY s.eid) AS first_ord
        FROM src AS s
        LEFT JOIN LATERAL (SELECT p.id AS pid FROM shared.person AS p
                           WHERE s.pid IS NOT NULL AND p.id = s.pid LIMIT 1) AS found ON true
    ), inserted AS (
        INSERT INTO shared.event (
            product_id, event_id, event_name, meta_event_name, person_id, occurred_at, source,
            properties, action_source, event_source_url, client_ip_address, client_user_agent,
            fbp, fbc, meta_user_data)
        SELECT p_product_id, c.eid, c.v ->> 'event_name',
               -- forward_as (track-conversion with forwarding on): that name unless a rule maps
               -- the event, so the rules table decides for this path too.
               coalesce(c.v ->> 'meta_event_name',
                        CASE WHEN c.v ? 'forward_as' AND NOT shared._conversion_rule_applies(
                                      p_product_id, c.v ->> 'event_name')
                             THEN c.v ->> 'forward_as' END),
               c.pid,
               coalesce((c.v ->> 'occurred_at')::timestamptz, now()), p_source,
               coalesce(c.v -> 'properties', '{}'::jsonb), c.v ->> 'action_source',
               c.v ->> 'event_source_url', (c.v ->> 'client_ip_address')::inet,
               c.v ->> 'client_user_agent', c.v ->> 'fbp', c.v ->> 'fbc',
               coalesce(c.v -> 'meta_user_data', '{}'::jsonb)
        FROM checked AS c
        WHERE c.known
        ORDER BY c.ord
        ON CONFLICT ON CONSTRAINT event_product_id_event_id_key DO NOTHING
        RETURNING id, event_id, person_id
    )
    SELECT c.ord, coalesce(ins.id, ev.id), c.eid, coalesce(ins.person_id, ev.person_id, c.pid),
           CASE WHEN NOT c.known THEN 'unknown_person'
                WHEN ins.id IS NOT NULL AND c.ord = c.first_ord THEN 'accepted'
                ELSE 'duplicate' END
    FROM checked AS c
    LEFT JOIN inserted AS ins ON ins.event_id = c.eid
    -- The snapshot predates this statement's insert: this finds only events stored before.
    -- Per row through the unique index, for resends only (a plain join hashed every event of
    -- the product on each call: cost grew with the table).
    LEFT JOIN LATERAL (SELECT ev.id, ev.person_id FROM shared.event AS ev
                       WHERE c.known AND ins.id IS NULL
                         AND ev.product_id = p_product_id AND ev.event_id = c.eid
                       LIMIT 1) AS ev ON true
    ORDER BY c.ord;
END
$$;


--
-- Name: FUNCTION ingest_events(p_product_id text, p_events jsonb, p_source text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.ingest_events(p_product_id text, p_events jsonb, p_source text) IS 'Store events from the HTTP endpoints in one call: upsert the people their raw PII describes, insert the events idempotently per (product, event_id); one row per element: accepted, duplicate or unknown_person.';


--
-- Name: insights_begin_pull(text, date, date, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.insights_begin_pull(p_account_id text, p_date_from date, p_date_to date, p_mode text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    v_id bigint;
BEGIN
    IF coalesce(p_account_id, '') !~ '^act_[0-9]{1,30}$' THEN
        PERFORM shared._raise('GD400', 'account_id', 'must look like act_<digits>');
    END IF;
    IF p_date_from IS NULL OR p_date_to IS NULL OR p_date_from > p_date_to THEN
        PERFORM shared._raise('GD400', 'date_from', 'must be a date on or before date_to');
    END IF;
    IF p_mode IS NULL OR p_mode NOT IN ('sync', 'async') THEN
        PERFORM shared._raise('GD400', 'mode', 'must be sync or async');
    END IF;
    -- A worker that died mid-pull leaves its row running; an hour on, it is not coming back.
    UPDATE shared.insights_pull
    SET status = 'failed', finished_at = now(), error_message = 'abandoned (worker stopped)'
    WHERE status = 'running' AND started_at < now() - interval '1 hour';
    INSERT INTO shared.insights_pull (account_id, date_from, date_to, mode)
    VALUES (p_account_id, p_date_from, p_date_to, p_mode)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$_$;


--
-- Name: FUNCTION insights_begin_pull(p_account_id text, p_date_from date, p_date_to date, p_mode text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.insights_begin_pull(p_account_id text, p_date_from date, p_date_to date, p_mode text) IS 'Start a pull of act_<id> over [date_from, date_to] (sync or async); returns the pull id the rows are written under.';


--
-- Name: insights_cache_state(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.insights_cache_state() RETURNS TABLE(ttl_s integer, last_pull_id bigint, enabled boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT coalesce((shared.setting_value('META_INSIGHTS_CACHE_TTL_SEC') #>> '{}')::integer, 900),
           (SELECT p.id FROM shared.insights_pull AS p
            WHERE p.status = 'succeeded' ORDER BY p.finished_at DESC LIMIT 1),
           shared.is_enabled('ACD_META_INSIGHTS_ENABLED')
$$;


--
-- Name: FUNCTION insights_cache_state(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.insights_cache_state() IS 'The insights API cache key: META_INSIGHTS_CACHE_TTL_SEC, the newest succeeded pull, and whether ACD_META_INSIGHTS_ENABLED is on.';


--
-- Name: insights_pull; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.insights_pull (
    id bigint NOT NULL,
    account_id text NOT NULL,
    date_from date NOT NULL,
    date_to date NOT NULL,
    mode text NOT NULL,
    status text DEFAULT 'running'::text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    rows_written integer DEFAULT 0 NOT NULL,
    rows_restated integer DEFAULT 0 NOT NULL,
    requests integer DEFAULT 0 NOT NULL,
    retries integer DEFAULT 0 NOT NULL,
    report_runs integer DEFAULT 0 NOT NULL,
    splits integer DEFAULT 0 NOT NULL,
    throttle_wait_ms bigint DEFAULT 0 NOT NULL,
    max_usage_pct integer,
    error_code integer,
    error_subcode integer,
    error_message text,
    CONSTRAINT insights_pull_mode_known CHECK ((mode = ANY (ARRAY['sync'::text, 'async'::text]))),
    CONSTRAINT insights_pull_range CHECK ((date_from <= date_to)),
    CONSTRAINT insights_pull_status_known CHECK ((status = ANY (ARRAY['running'::text, 'succeeded'::text, 'failed'::text])))
);


--
-- Name: TABLE insights_pull; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.insights_pull IS 'Every insights pull: its range, rows, requests, retries, duration and error (freshness).';


--
-- Name: insights_finish_pull(bigint, text, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.insights_finish_pull(p_pull_id bigint, p_status text, p_stats jsonb) RETURNS shared.insights_pull
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_row shared.insights_pull;
BEGIN
    IF p_status IS NULL OR p_status NOT IN ('succeeded', 'failed') THEN
        PERFORM shared._raise('GD400', 'status', 'must be succeeded or failed');
    END IF;
    UPDATE shared.insights_pull AS p SET
        status = p_status,
        finished_at = now(),
        requests = coalesce((p_stats ->> 'requests')::integer, p.requests),
        retries = coalesce((p_stats ->> 'retries')::integer, p.retries),
        report_runs = coalesce((p_stats ->> 'report_runs')::integer, p.report_runs),
        splits = coalesce((p_stats ->> 'splits')::integer, p.splits),
        throttle_wait_ms = coalesce((p_stats ->> 'throttle_wait_ms')::bigint, p.throttle_wait_ms),
        max_usage_pct = (p_stats ->> 'max_usage_pct')::integer,
        error_code = (p_stats ->> 'error_code')::integer,
        error_subcode = (p_stats ->> 'error_subcode')::integer,
        error_message = left(p_stats ->> 'error_message', 1000)
    WHERE p.id = p_pull_id AND p.status = 'running'
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'pull_id', format('no running insights pull %s', p_pull_id));
    END IF;
    IF p_status = 'succeeded' THEN
        PERFORM pg_notify('gdp_insights', p_pull_id::text);
    END IF;
    RETURN v_row;
END
$$;


--
-- Name: FUNCTION insights_finish_pull(p_pull_id bigint, p_status text, p_stats jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.insights_finish_pull(p_pull_id bigint, p_status text, p_stats jsonb) IS 'Close a running pull as succeeded or failed with its counters (requests, retries, report runs, splits, throttle waits, error); a success tells API caches to refresh.';


--
-- Name: insights_worker_config(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.insights_worker_config() RETURNS TABLE(enabled boolean, ad_account_id text, repull_days integer, async_min_days integer, pull_interval_s integer, attribution_windows text[], last_succeeded_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT shared.is_enabled('ACD_META_INSIGHTS_ENABLED'),
           shared.setting_value('META_AD_ACCOUNT_ID') #>> '{}',
           coalesce((shared.setting_value('META_INSIGHTS_REPULL_DAYS') #>> '{}')::integer, 28),
           coalesce((shared.setting_value('META_INSIGHTS_ASYNC_MIN_DAYS') #>> '{}')::integer, 8),
           coalesce((shared.setting_value('META_INSIGHTS_PULL_INTERVAL_SEC') #>> '{}')::integer, 900),
           coalesce(ARRAY(SELECT jsonb_array_elements_text(
                              shared.setting_value('META_INSIGHTS_ATTRIBUTION_WINDOWS'))),
                    '{}'::text[]),
           (SELECT max(p.finished_at) FROM shared.insights_pull AS p WHERE p.status = 'succeeded')
$$;


--
-- Name: FUNCTION insights_worker_config(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.insights_worker_config() IS 'What the insights worker runs by: the ACD_META_INSIGHTS_ENABLED flag, the ad account, the re-pull window, when to use async report runs, the pull interval, the attribution windows and when the last pull succeeded.';


--
-- Name: insights_write_rows(bigint, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.insights_write_rows(p_pull_id bigint, p_rows jsonb) RETURNS TABLE(rows_written integer, rows_restated integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    v_pull shared.insights_pull;
    v_windows text[];
    v_written integer;
    v_restated integer;
BEGIN
    -- Writers take turns: the rollup of a (day, campaign) is recomputed from the ad rows, and
    -- two writers touching the same campaign-day at once would each miss the other's rows.
    -- Taken before any read, so this call's statements see what the previous writer committed.
    PERFORM pg_advisory_xact_lock(hashtext('shared.insights_write_rows'));
    SELECT * INTO v_pull FROM shared.insights_pull WHERE id = p_pull_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'pull_id', format('no insights pull %s', p_pull_id));
    END IF;
    IF v_pull.status <> 'running' THEN
        PERFORM shared._raise('GD409', 'pull_id', format('pull %s is %s', p_pull_id, v_pull.status));
    END IF;
    IF p_rows IS NULL OR jsonb_typeof(p_rows) <> 'array' THEN
        PERFORM shared._raise('GD400', 'rows', 'must be a JSON array of insights rows');
    END IF;
    IF EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_rows) AS r
        WHERE jsonb_typeof(r) <> 'object'
           OR coalesce(r ->> 'ad_id', '') !~ '^[0-9]{1,30}$'
           OR coalesce(r ->> 'campaign_id', '') !~ '^[0-9]{1,30}$'
           OR shared._try_iso_date(r ->> 'date_start') IS NULL
           OR (r ->> 'date_start') IS DISTINCT FROM (r ->> 'date_stop')
    ) THEN
        PERFORM shared._raise('GD400', 'rows',
            'each row needs ad_id, campaign_id and one day (date_start = date_stop): level=ad, time_increment=1');
    END IF;
    v_windows := coalesce(ARRAY(SELECT jsonb_array_elements_text(
                     shared.setting_value('META_INSIGHTS_ATTRIBUTION_WINDOWS'))), '{}'::text[]);

    -- One statement: every CTE sees the table as it was before it, so "old" holds the figures
    -- this page replaces.
    WITH page AS (
        SELECT DISTINCT ON (r.ad_id, r.date_start::date)
               r.ad_id, r.date_start::date AS date, r.campaign_id, r.campaign_name, r.adset_id,
               r.adset_name, r.ad_name, r.account_currency AS currency,
               coalesce(r.spend, '0')::numeric AS spend,
               coalesce(r.impressions, '0')::bigint AS impressions,
               coalesce(r.clicks, '0')::bigint AS clicks, r.reach::bigint AS reach,
               x.actions, x.action_values,
               shared.meta_conversions(x.actions) AS conversions,
               shared.meta_conversions(x.action_values, true) AS conversion_value
        FROM jsonb_to_recordset(p_rows) AS r(
            ad_id text, date_start text, campaign_id text, campaign_name text, adset_id text,
            adset_name text, ad_name text, account_currency text, spend text, impressions text,
            clicks text, reach text, actions jsonb, action_values jsonb)
        CROSS JOIN LATERAL (
            SELECT shared._meta_action_map(r.actions) AS actions,
                   shared._meta_action_map(r.action_values) AS action_values
        ) AS x
        ORDER BY r.ad_id, r.date_start::date
    ), old AS (
        SELECT o.ad_id, o.date, o.spend, o.conversions, o.conversion_value
        FROM shared.performance_daily AS o
        JOIN page AS n ON n.ad_id = o.ad_id AND n.date = o.date
    ), upserted AS (
        INSERT INTO shared.performance_daily AS d (
            ad_id, date, account_id, campaign_id, campaign_name, adset_id, adset_name, ad_name,
            currency, spend, impressions, clicks, reach, actions, action_values, conversions,
            conversion_value, attribution_windows, pull_id)
        SELECT n.ad_id, n.date, v_pull.account_id, n.campaign_id, n.campaign_name, n.adset_id,
               n.adset_name, n.ad_name, n.currency, n.spend, n.impressions, n.clicks, n.reach,
               n.actions, n.action_values, n.conversions, n.conversion_value, v_windows, p_pull_id
        FROM page AS n
        ON CONFLICT (ad_id, date) DO UPDATE SET
            account_id = excluded.account_id,
            campaign_id = excluded.campaign_id,
            campaign_name = excluded.campaign_name,
            adset_id = excluded.adset_id,
            adset_name = excluded.adset_name,
            ad_name = excluded.ad_name,
            currency = excluded.currency,
            spend = excluded.spend,
            impressions = excluded.impressions,
            clicks = excluded.clicks,
            reach = excluded.reach,
            actions = excluded.actions,
            action_values = excluded.action_values,
            conversions = excluded.conversions,
            conversion_value = excluded.conversion_value,
            attribution_windows = excluded.attribution_windows,
            pulled_at = now(),
            pull_id = excluded.pull_id,
            restatements = d.restatements
                + ((d.spend, d.conversions, d.conversion_value)
                   IS DISTINCT FROM (excluded.spend, excluded.conversions,
                                     excluded.conversion_value))::integer
        RETURNING 1
    ), restated AS (
        INSERT INTO shared.performance_restatement (
            ad_id, date, pull_id, spend_before, spend_after, conversions_before,
            conversions_after, value_before, value_after)
        SELECT o.ad_id, o.date, p_pull_id, o.spend, n.spend, o.conversions, n.conversions,
               o.conversion_value, n.conversion_value
        FROM page AS n
        JOIN old AS o ON o.ad_id = n.ad_id AND o.date = n.date
        WHERE (o.spend, o.conversions, o.conversion_value)
              IS DISTINCT FROM (n.spend, n.conversions, n.conversion_value)
        RETURNING 1
    ), campaigns AS (
        INSERT INTO shared.campaign_project AS c (campaign_id, campaign_name, project_id)
        SELECT DISTINCT ON (n.campaign_id) n.campaign_id, n.campaign_name,
               shared._project_for_campaign_name(n.campaign_name)
        FROM page AS n
        ORDER BY n.campaign_id
        ON CONFLICT (campaign_id) DO UPDATE SET
            campaign_name = excluded.campaign_name,
            -- A renamed campaign follows the convention again unless an admin assigned it.
            project_id = CASE WHEN c.assigned_by = 'naming_convention'
                              THEN excluded.project_id ELSE c.project_id END,
            updated_at = now()
        WHERE c.campaign_name IS DISTINCT FROM excluded.campaign_name
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM restated)
    INTO v_written, v_restated
    FROM (SELECT count(*) FROM campaigns) AS settled;

    -- The rollup of every (day, campaign) this page touched, recomputed from the ad rows (a
    -- separate statement, so it sees the rows just written).
    INSERT INTO shared.performance_campaign_daily AS r (
        date, campaign_id, spend, impressions, clicks, conversions, conversion_value, ads)
    SELECT d.date, d.campaign_id, sum(d.spend), sum(d.impressions), sum(d.clicks),
           sum(d.conversions), sum(d.conversion_value), count(*)
    FROM (SELECT DISTINCT (e ->> 'date_start')::date AS date, e ->> 'campaign_id' AS campaign_id
          FROM jsonb_array_elements(p_rows) AS e) AS t
    JOIN shared.performance_daily AS d ON d.campaign_id = t.campaign_id AND d.date = t.date
    GROUP BY d.date, d.campaign_id
    ON CONFLICT (date, campaign_id) DO UPDATE SET
        spend = excluded.spend, impressions = excluded.impressions, clicks = excluded.clicks,
        conversions = excluded.conversions, conversion_value = excluded.conversion_value,
        ads = excluded.ads;

    UPDATE shared.insights_pull
    SET rows_written = insights_pull.rows_written + v_written,
        rows_restated = insights_pull.rows_restated + v_restated
    WHERE id = p_pull_id;
    RETURN QUERY SELECT v_written, v_restated;
END
$_$;


--
-- Name: FUNCTION insights_write_rows(p_pull_id bigint, p_rows jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.insights_write_rows(p_pull_id bigint, p_rows jsonb) IS 'Write a page of Meta insights rows (level=ad, time_increment=1, as Meta sends them) under a running pull: upsert by (ad, day), log restated days, map new campaigns to projects by naming convention, keep the per-campaign rollup in step.';


--
-- Name: is_enabled(text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.is_enabled(p_flag_key text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce((SELECT enabled FROM shared.feature_flag WHERE flag_key = p_flag_key), false) $$;


--
-- Name: FUNCTION is_enabled(p_flag_key text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.is_enabled(p_flag_key text) IS 'Whether a feature flag (a PRD gap) is on; false for an unknown flag.';


--
-- Name: lead_fetch_failed(bigint, text, boolean, integer, integer, integer, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.lead_fetch_failed(p_msg_id bigint, p_leadgen_id text, p_final boolean, p_delay_s integer, p_error_code integer, p_error_subcode integer, p_error_message text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
    UPDATE shared.meta_lead AS l SET
        attempts = l.attempts + 1,
        status = CASE WHEN p_final THEN 'failed' ELSE l.status END,
        error_code = p_error_code,
        error_subcode = p_error_subcode,
        error_message = left(p_error_message, 500)
    WHERE l.leadgen_id = p_leadgen_id AND l.status <> 'synced';
    IF p_msg_id IS NOT NULL THEN
        IF p_final THEN
            PERFORM pgmq.archive('meta_leads', p_msg_id);
        ELSE
            PERFORM pgmq.set_vt('meta_leads', p_msg_id, greatest(p_delay_s, 0));
        END IF;
    END IF;
    RETURN CASE WHEN p_final THEN 'failed' ELSE 'retrying' END;
END
$$;


--
-- Name: FUNCTION lead_fetch_failed(p_msg_id bigint, p_leadgen_id text, p_final boolean, p_delay_s integer, p_error_code integer, p_error_subcode integer, p_error_message text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.lead_fetch_failed(p_msg_id bigint, p_leadgen_id text, p_final boolean, p_delay_s integer, p_error_code integer, p_error_subcode integer, p_error_message text) IS 'Record a lead that could not be fetched from Meta: retried after p_delay_s, or with p_final recorded as failed (Meta''s code kept) and its message archived.';


--
-- Name: lead_queue_read(integer, integer); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.lead_queue_read(p_vt integer, p_qty integer) RETURNS TABLE(msg_id bigint, read_ct integer, leadgen_id text)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT m.msg_id, m.read_ct, m.message ->> 'leadgen_id'
    FROM pgmq.read('meta_leads', greatest(p_vt, 1), least(greatest(p_qty, 1), 1000)) AS m
$$;


--
-- Name: FUNCTION lead_queue_read(p_vt integer, p_qty integer); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.lead_queue_read(p_vt integer, p_qty integer) IS 'Lease up to p_qty messages of the meta_leads queue for p_vt seconds (the lead worker''s only queue access).';


--
-- Name: lead_worker_config(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.lead_worker_config() RETURNS TABLE(enabled boolean, default_product text, max_attempts integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT shared.is_enabled('LEAD_ADS_SYNC_ENABLED'),
           coalesce(shared.setting_value('LEAD_ADS_DEFAULT_PRODUCT') #>> '{}', 'waitlistlab'),
           coalesce((shared.setting_value('LEAD_ADS_MAX_ATTEMPTS') #>> '{}')::integer, 8)
$$;


--
-- Name: FUNCTION lead_worker_config(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.lead_worker_config() IS 'What the lead worker runs by: LEAD_ADS_SYNC_ENABLED, the default product and the fetch attempts before a lead is recorded as failed.';


--
-- Name: link_identity(uuid, text, text, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.link_identity(p_person_id uuid, p_provider text, p_external_id text, p_metadata jsonb DEFAULT '{}'::jsonb) RETURNS uuid
    LANGUAGE plpgsql
    AS $_$
DECLARE
    v_link shared.identity_link;
BEGIN
    IF coalesce(p_provider, '') !~ '^[a-z][a-z0-9_]{1,39}$' THEN
        PERFORM shared._raise('GD400', 'provider', 'must be a lowercase slug such as stripe');
    END IF;
    IF length(coalesce(p_external_id, '')) NOT BETWEEN 1 AND 255 THEN
        PERFORM shared._raise('GD400', 'external_id', 'must be 1 to 255 characters');
    END IF;
    IF p_metadata IS NOT NULL AND jsonb_typeof(p_metadata) <> 'object' THEN
        PERFORM shared._raise('GD400', 'metadata', 'must be a JSON object');
    END IF;
    PERFORM 1 FROM shared.person WHERE id = p_person_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;

    INSERT INTO shared.identity_link (person_id, provider, external_id, metadata)
    VALUES (p_person_id, p_provider, p_external_id, coalesce(p_metadata, '{}'::jsonb))
    ON CONFLICT ON CONSTRAINT identity_link_provider_external_id_key DO NOTHING
    RETURNING * INTO v_link;
    IF FOUND THEN
        RETURN v_link.id;
    END IF;

    SELECT * INTO v_link FROM shared.identity_link
    WHERE provider = p_provider AND external_id = p_external_id;
    IF v_link.person_id <> p_person_id THEN
        PERFORM shared._raise('GD409', 'external_id',
            format('the %s identity is already linked to another person (%s)',
                   p_provider, v_link.person_id));
    END IF;
    RETURN v_link.id;
END
$_$;


--
-- Name: FUNCTION link_identity(p_person_id uuid, p_provider text, p_external_id text, p_metadata jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.link_identity(p_person_id uuid, p_provider text, p_external_id text, p_metadata jsonb) IS 'Link an external identity (provider, external id) to a person; again to the same person is a no-op, to another person is refused (GD409). Returns the link''s id.';


--
-- Name: list_keys(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.list_keys() RETURNS TABLE(id uuid, product_id text, kind text, key_prefix text, label text, created_at timestamp with time zone, created_by text, expires_at timestamp with time zone, revoked_at timestamp with time zone, last_used_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT k.id, k.product_id, 'service_key', k.key_prefix, k.label, k.created_at, k.created_by,
           NULL::timestamptz, k.revoked_at, k.last_used_at
    FROM shared.service_key AS k
    UNION ALL
    SELECT c.id, c.product_id, 'product_jwt', 'jwt', c.label, c.created_at, c.created_by,
           c.expires_at, c.revoked_at, NULL::timestamptz
    FROM shared.product_credential AS c
    ORDER BY 2, 6
$$;


--
-- Name: FUNCTION list_keys(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.list_keys() IS 'Service keys and product JWTs by product, with their state; never a secret (gdp keys list).';


--
-- Name: make_process_login(text, text[], text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.make_process_login(p_login text, p_roles text[], p_password_hash text DEFAULT NULL::text) RETURNS TABLE(login text, created boolean, roles text[])
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
DECLARE
    v_known text[] := ARRAY(SELECT r.role_name FROM shared.process_roles() AS r);
    v_created boolean := false;
    v_role text;
BEGIN
    IF p_login IS NULL OR p_login !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        PERFORM shared._raise('GD400', 'login',
            'must be a lowercase name of letters, digits and _ (at most 63)');
    END IF;
    IF p_login = ANY (v_known) OR p_login IN ('gdp_product', 'anon', 'authenticated',
                                             'service_role', 'authenticator', 'postgres') THEN
        PERFORM shared._raise('GD400', 'login',
            format('%s is a role, not a login for a process; pick another name', p_login));
    END IF;
    IF coalesce(cardinality(p_roles), 0) = 0 THEN
        PERFORM shared._raise('GD400', 'roles', 'name at least one process role');
    END IF;
    FOREACH v_role IN ARRAY p_roles LOOP
        IF NOT v_role = ANY (v_known) THEN
            PERFORM shared._raise('GD400', 'roles',
                format('%s is not a GDP process role (one of: %s)', v_role,
                       array_to_string(v_known, ', ')));
        END IF;
    END LOOP;
    IF p_password_hash IS NOT NULL AND p_password_hash !~ '^SCRAM-SHA-256\$' THEN
        PERFORM shared._raise('GD400', 'password_hash', 'must be a SCRAM-SHA-256 verifier');
    END IF;
    -- Two deployers making the same login at once: the second waits, then finds it made.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('shared.make_process_login'));

    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = p_login) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT', p_login);
        v_created := true;
    ELSIF NOT (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = p_login) THEN
        PERFORM shared._raise('GD409', 'login', format('%s exists and cannot log in', p_login));
    END IF;
    IF p_password_hash IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', p_login, p_password_hash);
    END IF;
    FOREACH v_role IN ARRAY p_roles LOOP
        IF NOT pg_catalog.pg_has_role(p_login, v_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', v_role, p_login);
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT p_login, v_created,
           ARRAY(SELECT r.role_name FROM shared.process_roles() AS r
                 WHERE p_login = ANY (r.logins) ORDER BY r.role_name);
END
$_$;


--
-- Name: FUNCTION make_process_login(p_login text, p_roles text[], p_password_hash text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.make_process_login(p_login text, p_roles text[], p_password_hash text) IS 'Create or update a NOINHERIT login for GDP processes and grant it the named process roles (gdp db roles login). Takes a client-computed SCRAM verifier, never a password.';


--
-- Name: meta_conversions(jsonb, boolean); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.meta_conversions(p_actions jsonb, p_values_only boolean DEFAULT false) RETURNS numeric
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT coalesce(sum(best.value), 0)
    FROM (
        SELECT DISTINCT ON (a.family) (p_actions ->> a.action_type)::numeric AS value
        FROM shared.insights_conversion_action AS a
        JOIN shared.conversion_family AS f ON f.family = a.family
        WHERE f.enabled AND (NOT p_values_only OR f.counts_value) AND p_actions ? a.action_type
        ORDER BY a.family, a.rank
    ) AS best
$$;


--
-- Name: FUNCTION meta_conversions(p_actions jsonb, p_values_only boolean); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.meta_conversions(p_actions jsonb, p_values_only boolean) IS 'Conversions (or with p_values_only, revenue) in Meta''s {action_type: number}: per family of shared.conversion_family its best-ranked action type present, so omni_purchase, purchase and the pixel purchase are one purchase, not three.';


--
-- Name: meta_event_id(text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.meta_event_id(p_product_id text, p_event_id text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT p_product_id || ':' || p_event_id $$;


--
-- Name: FUNCTION meta_event_id(p_product_id text, p_event_id text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.meta_event_id(p_product_id text, p_event_id text) IS 'The event id Meta receives for a product''s event: <product_id>:<event_id> (unique per pixel when products share one; the browser Pixel sends the same id, so Meta deduplicates the pair).';


--
-- Name: process_roles(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.process_roles() RETURNS TABLE(role_name text, purpose text, present boolean, logins text[])
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    SELECT r.role_name, r.purpose, p.oid IS NOT NULL,
           coalesce((SELECT array_agg(l.rolname::text ORDER BY l.rolname)
                     FROM pg_catalog.pg_auth_members AS m
                     JOIN pg_catalog.pg_roles AS l ON l.oid = m.member
                     WHERE m.roleid = p.oid AND l.rolcanlogin), '{}')
    FROM (VALUES
        (1, 'gdp_api',             'gdp serve: the HTTP service'),
        (2, 'gdp_capi_worker',     'gdp worker capi: Conversions API delivery'),
        (3, 'gdp_insights_worker', 'gdp worker insights: Ads Insights pulls'),
        (4, 'gdp_lead_worker',     'gdp worker leads: Lead Ads sync'),
        (5, 'gdp_segment_worker',  'gdp worker segments: segment evaluation'),
        (6, 'gdp_audience_worker', 'gdp worker audiences: Custom Audience sync'),
        (7, 'gdp_maintenance',     'gdp worker maintenance: retention'),
        (8, 'gdp_dashboard',       'the dashboard and the insights API of gdp serve'),
        (9, 'gdp_admin',           'the admin CLI: gdp flags, checklist, settings, keys, dlq, people, insights')
    ) AS r(ord, role_name, purpose)
    LEFT JOIN pg_catalog.pg_roles AS p ON p.rolname = r.role_name
    ORDER BY r.ord
$$;


--
-- Name: FUNCTION process_roles(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.process_roles() IS 'GDP''s process roles, what each is for, whether it exists and the logins that are members (gdp db roles).';


--
-- Name: product_claim(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.product_claim() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $_$
    SELECT c.product_id
    FROM (SELECT auth.jwt() AS claims) AS j
    JOIN shared.product_credential AS c
      ON c.id = CASE WHEN (j.claims ->> 'jti') ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                     THEN (j.claims ->> 'jti')::uuid END
     AND c.product_id = j.claims ->> 'product_id'
    WHERE (current_user = 'gdp_product'
           OR current_setting('role', true) = 'gdp_product')
      AND c.revoked_at IS NULL
      AND (c.expires_at IS NULL OR c.expires_at > now())
$_$;


--
-- Name: FUNCTION product_claim(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.product_claim() IS 'The product_id of the current request''s verified product credential (role gdp_product, a known, unrevoked jti), else NULL. Used by RLS and the API functions products call.';


--
-- Name: rebuild_person_activity(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.rebuild_person_activity() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    SET work_mem TO '256MB'
    AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- Never beside an evaluation (which folds logged events into the same rows), so nothing
    -- else writes daily rows until this transaction ends: the emptied table takes plain inserts.
    PERFORM pg_advisory_xact_lock(hashtext('gdp.evaluate_segments'));
    DELETE FROM shared.person_activity_recent;
    DELETE FROM shared.person_activity_settled;
    -- One statement, so one snapshot: the logged events it deletes are exactly those already
    -- committed, which the events it reads include; an insert committing meanwhile is in
    -- neither, and the next evaluation folds it in.
    WITH cleared AS (
        DELETE FROM shared.segment_change_log AS l
        WHERE l.event_ids IS NOT NULL OR l.event_id_first IS NOT NULL
        RETURNING 1
    ), by_name AS (
        SELECT n.person_id, n.product_id, shared._utc_day(n.occurred_at) AS day, n.event_name,
               coalesce(own.kind, anyp.kind) AS kind, count(*)::integer AS n,
               min(n.occurred_at) AS first_at, max(n.occurred_at) AS last_at
        FROM shared.event AS n
        LEFT JOIN shared.feature_event_kind AS own
               ON own.product_id = n.product_id AND own.event_name = n.event_name
        LEFT JOIN shared.feature_event_kind AS anyp
               ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
        WHERE n.person_id IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
    ), days AS (
        SELECT b.person_id, b.product_id, b.day,
               min(b.first_at) AS first_at, max(b.last_at) AS last_at,
               sum(b.n)::integer AS events,
               coalesce(sum(b.n) FILTER (WHERE shared._counts_as_usage(b.kind)), 0)::integer
                   AS usage,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'pricing_view'), 0)::integer
                   AS pricing_views,
               min(b.first_at) FILTER (WHERE b.kind = 'activation') AS first_activation_at,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'payment'), 0)::integer AS payments,
               max(b.last_at) FILTER (WHERE b.kind = 'payment') AS last_payment_at,
               max(b.last_at) FILTER (WHERE b.kind = 'cancel') AS last_cancel_at,
               jsonb_object_agg(b.event_name, b.n) AS counts,
               min(b.first_at) FILTER (WHERE b.kind = 'payment') AS first_payment_at,
               max(b.last_at) FILTER (WHERE shared._counts_as_usage(b.kind)) AS last_usage_at
        FROM by_name AS b GROUP BY 1, 2, 3
    ), paid AS (
        SELECT DISTINCT ON (n.person_id, n.product_id, shared._utc_day(n.occurred_at))
               n.person_id, n.product_id, shared._utc_day(n.occurred_at) AS day,
               n.properties ->> 'plan' AS plan, shared._payment_mrr(n.properties) AS mrr
        FROM shared.event AS n
        LEFT JOIN shared.feature_event_kind AS own
               ON own.product_id = n.product_id AND own.event_name = n.event_name
        LEFT JOIN shared.feature_event_kind AS anyp
               ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
        WHERE n.person_id IS NOT NULL AND coalesce(own.kind, anyp.kind) = 'payment'
        ORDER BY n.person_id, n.product_id, shared._utc_day(n.occurred_at),
                 n.occurred_at DESC, n.id DESC
    )
    INSERT INTO shared.person_activity_settled (
        person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
        first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at, event_counts,
        first_payment_at, last_usage_at)
    SELECT d.person_id, d.product_id, d.day, d.first_at, d.last_at, d.events, d.usage,
           d.pricing_views, d.first_activation_at, d.payments, d.last_payment_at, p.plan, p.mrr,
           d.last_cancel_at, d.counts, d.first_payment_at, d.last_usage_at
    FROM days AS d
    LEFT JOIN paid AS p USING (person_id, product_id, day)
    ORDER BY d.person_id, d.product_id, d.day;
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    INSERT INTO shared.segment_change_log (person_ids)
    SELECT array_agg(p.id) FROM shared.person AS p HAVING count(*) > 0;
    RETURN v_rows;
END
$$;


--
-- Name: FUNCTION rebuild_person_activity(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.rebuild_person_activity() IS 'Rebuild the daily rows (shared.person_activity_daily) from every event in shared.event (after installing on a database with events, or after changing shared.feature_event_kind) and queue every person for re-evaluation; returns the daily rows written.';


--
-- Name: receive_lead_webhook(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.receive_lead_webhook(p_payload jsonb) RETURNS TABLE(enabled boolean, changes integer, new_leads integer, duplicates integer, skipped integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    v_changes integer;
    v_valid integer;
    v_new text[];
BEGIN
    IF p_payload IS NULL OR jsonb_typeof(p_payload) <> 'object' THEN
        PERFORM shared._raise('GD400', 'body', 'must be a JSON object');
    END IF;
    IF p_payload ->> 'object' IS DISTINCT FROM 'page' THEN
        PERFORM shared._raise('GD400', 'object', 'must be page (Lead Ads notifications)');
    END IF;
    IF jsonb_typeof(p_payload -> 'entry') IS DISTINCT FROM 'array' THEN
        PERFORM shared._raise('GD400', 'entry', 'must be an array');
    END IF;
    -- Off: nothing is stored (the answer says so; Meta is answered 200 and drops the delivery).
    IF NOT shared.is_enabled('LEAD_ADS_SYNC_ENABLED') THEN
        RETURN QUERY SELECT false, 0, 0, 0, 0;
        RETURN;
    END IF;

    WITH items AS (
        SELECT c.value AS change, e.value ->> 'id' AS entry_page
        FROM jsonb_array_elements(p_payload -> 'entry') AS e
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(e.value -> 'changes') = 'array'
                 THEN e.value -> 'changes' ELSE '[]'::jsonb END) AS c
    ), leadgen AS (
        SELECT v.leadgen_id, v.page_id, v.form_id, v.ad_id,
               CASE WHEN v.created ~ '^[0-9]{1,12}$' THEN to_timestamp(v.created::bigint) END
                   AS created_time
        FROM items AS i
        CROSS JOIN LATERAL (
            SELECT i.change -> 'value' ->> 'leadgen_id' AS leadgen_id,
                   coalesce(i.change -> 'value' ->> 'page_id', i.entry_page) AS page_id,
                   i.change -> 'value' ->> 'form_id' AS form_id,
                   coalesce(i.change -> 'value' ->> 'ad_id',
                            i.change -> 'value' ->> 'adgroup_id') AS ad_id,
                   i.change -> 'value' ->> 'created_time' AS created
        ) AS v
        WHERE i.change ->> 'field' = 'leadgen'
          AND jsonb_typeof(i.change -> 'value') = 'object'
          AND v.leadgen_id ~ '^[0-9]{1,30}$'
          AND v.page_id ~ '^[0-9]{1,30}$'
          AND v.form_id ~ '^[0-9]{1,30}$'
          AND (v.ad_id IS NULL OR v.ad_id ~ '^[0-9]{1,30}$')
    ), valid AS (
        -- The same lead twice in one delivery is one lead (the second copy is a duplicate).
        SELECT DISTINCT ON (g.leadgen_id) g.* FROM leadgen AS g ORDER BY g.leadgen_id
    ), upserted AS (
        INSERT INTO shared.meta_lead AS l (leadgen_id, page_id, form_id, ad_id, is_organic,
                                           created_time)
        SELECT d.leadgen_id, d.page_id, d.form_id, d.ad_id, d.ad_id IS NULL, d.created_time
        FROM valid AS d
        ORDER BY d.leadgen_id
        ON CONFLICT (leadgen_id) DO UPDATE SET
            deliveries = l.deliveries + 1,
            last_delivery_at = now()
        RETURNING l.leadgen_id, (l.xmax = 0) AS is_new
    )
    SELECT (SELECT count(*)::integer FROM items),
           (SELECT count(*)::integer FROM leadgen),
           (SELECT array_agg(u.leadgen_id ORDER BY u.leadgen_id) FILTER (WHERE u.is_new)
            FROM upserted AS u)
    INTO v_changes, v_valid, v_new;

    IF cardinality(v_new) > 0 THEN
        PERFORM pgmq.send_batch(
            'meta_leads',
            ARRAY(SELECT jsonb_build_object('leadgen_id', id) FROM unnest(v_new) AS id));
        PERFORM pg_notify('gdp_meta_leads', '');
    END IF;
    RETURN QUERY SELECT true, v_changes, coalesce(cardinality(v_new), 0),
                        v_valid - coalesce(cardinality(v_new), 0), v_changes - v_valid;
END
$_$;


--
-- Name: FUNCTION receive_lead_webhook(p_payload jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.receive_lead_webhook(p_payload jsonb) IS 'Store a verified Lead Ads webhook delivery: every entry and change, deduplicated by leadgen_id (a repeat counts a delivery), new leads queued on pgmq meta_leads (ids only). Returns whether LEAD_ADS_SYNC_ENABLED is on (off: nothing stored), changes, new leads, duplicates and skipped changes.';


--
-- Name: record_capi_outcomes(jsonb, bigint[]); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.record_capi_outcomes(p_outcomes jsonb, p_archive_msg_ids bigint[] DEFAULT '{}'::bigint[]) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_rows integer;
BEGIN
    INSERT INTO shared.attribution_events (
        event_ref, product_id, event_id, meta_event_name, person_id, pixel_id, status, attempt,
        batch_size, match_keys, events_received, test_event_code, meta_fbtrace_id, error_code,
        error_subcode, error_message)
    SELECT o.event_ref, o.product_id, o.event_id, o.meta_event_name,
           -- The person may have been erased while the batch was in flight.
           (SELECT p.id FROM shared.person AS p WHERE p.id = o.person_id),
           o.pixel_id, o.status, coalesce(o.attempt, 1), o.batch_size,
           coalesce(o.match_keys, '{}'), o.events_received, o.test_event_code, o.fbtrace_id,
           o.error_code, o.error_subcode, left(o.error_message, 1000)
    FROM jsonb_to_recordset(p_outcomes) AS o(
        event_ref bigint, product_id text, event_id text, meta_event_name text, person_id uuid,
        pixel_id text, status text, attempt integer, batch_size integer, match_keys text[],
        events_received integer, test_event_code text, fbtrace_id text, error_code integer,
        error_subcode integer, error_message text, dead_letter_reason text);
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    INSERT INTO shared.capi_dead_letter (
        event_ref, product_id, event_id, meta_event_name, pixel_id, reason, error_code,
        error_subcode, error_message, attempts)
    SELECT o.event_ref, o.product_id, o.event_id, o.meta_event_name, o.pixel_id,
           o.dead_letter_reason, o.error_code, o.error_subcode, left(o.error_message, 1000),
           coalesce(o.attempt, 1)
    FROM jsonb_to_recordset(p_outcomes) AS o(
        event_ref bigint, product_id text, event_id text, meta_event_name text, pixel_id text,
        attempt integer, error_code integer, error_subcode integer, error_message text,
        dead_letter_reason text)
    WHERE o.dead_letter_reason IS NOT NULL;

    IF cardinality(p_archive_msg_ids) > 0 THEN
        PERFORM pgmq.archive('meta_capi', p_archive_msg_ids);
    END IF;
    RETURN v_rows;
END
$$;


--
-- Name: FUNCTION record_capi_outcomes(p_outcomes jsonb, p_archive_msg_ids bigint[]); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.record_capi_outcomes(p_outcomes jsonb, p_archive_msg_ids bigint[]) IS 'Record the outcomes of a batch of Conversions API events (delivery records, and dead letters where a reason is given) and archive their queue messages, in one transaction.';


--
-- Name: record_consent(uuid, text, text, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.record_consent(p_person_id uuid, p_status text, p_source text, p_changed_at timestamp with time zone DEFAULT now()) RETURNS shared.consent_status
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_status shared.consent_status;
    v_current shared.person;
BEGIN
    IF coalesce(p_status, '') <> ALL (enum_range(NULL::shared.consent_status)::text[]) THEN
        PERFORM shared._raise('GD400', 'status', 'must be one of granted, withdrawn, unknown');
    END IF;
    IF nullif(shared._trim(p_source), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'source', 'is required (where the consent was given)');
    END IF;
    v_status := p_status::shared.consent_status;

    SELECT * INTO v_current FROM shared.person WHERE id = p_person_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;

    INSERT INTO shared.consent_log (person_id, status, source, changed_at)
    VALUES (p_person_id, v_status, shared._trim(p_source), coalesce(p_changed_at, now()));

    IF v_current.consent_changed_at IS NULL
       OR coalesce(p_changed_at, now()) >= v_current.consent_changed_at THEN
        UPDATE shared.person
        SET consent_status = v_status, consent_changed_at = coalesce(p_changed_at, now())
        WHERE id = p_person_id;
        RETURN v_status;
    END IF;
    RETURN v_current.consent_status;
END
$$;


--
-- Name: FUNCTION record_consent(p_person_id uuid, p_status text, p_source text, p_changed_at timestamp with time zone); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.record_consent(p_person_id uuid, p_status text, p_source text, p_changed_at timestamp with time zone) IS 'Record a consent change (logged); the person''s state follows the most recent change by its own time. A withdrawal waits for a Conversions API request in flight for the person.';


--
-- Name: replay_dead_letters(bigint[], text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.replay_dead_letters(p_ids bigint[], p_actor text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_msgs jsonb[];
BEGIN
    WITH picked AS (
        UPDATE shared.capi_dead_letter AS d
        SET replayed_at = now(), replayed_by = v_actor
        WHERE d.replayed_at IS NULL AND (p_ids IS NULL OR d.id = ANY (p_ids))
          AND EXISTS (SELECT 1 FROM shared.event AS e WHERE e.id = d.event_ref)
        RETURNING d.event_ref, d.meta_event_name
    )
    SELECT array_agg(jsonb_build_object('event', event_ref, 'meta_event_name', meta_event_name,
                                        'replay', true) ORDER BY event_ref)
    INTO v_msgs FROM picked;
    IF v_msgs IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pgmq.send_batch('meta_capi', v_msgs);
    PERFORM pg_notify('gdp_meta_capi', '');
    RETURN cardinality(v_msgs);
END
$$;


--
-- Name: FUNCTION replay_dead_letters(p_ids bigint[], p_actor text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.replay_dead_letters(p_ids bigint[], p_actor text) IS 'Put dead letters (all pending ones when p_ids is NULL) back on the meta_capi queue with their original event and event_id, so Meta deduplicates; returns how many were queued.';


--
-- Name: retention_delete_attribution_events(integer, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.retention_delete_attribution_events(p_batch_size integer DEFAULT NULL::integer, p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_cutoff timestamptz := shared._retention_cutoff('RETENTION_ATTRIBUTION_DAYS', p_as_of);
    v_deleted bigint;
BEGIN
    WITH doomed AS (
        SELECT a.ctid FROM shared.attribution_events AS a
        WHERE a.created_at < v_cutoff
        LIMIT shared._retention_batch_size(p_batch_size)
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM shared.attribution_events AS a USING doomed WHERE a.ctid = doomed.ctid;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END
$$;


--
-- Name: FUNCTION retention_delete_attribution_events(p_batch_size integer, p_as_of timestamp with time zone); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.retention_delete_attribution_events(p_batch_size integer, p_as_of timestamp with time zone) IS 'Deletes one batch of delivery records (shared.attribution_events) written more than RETENTION_ATTRIBUTION_DAYS ago; returns how many.';


--
-- Name: retention_delete_dead_letters(integer, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.retention_delete_dead_letters(p_batch_size integer DEFAULT NULL::integer, p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_cutoff timestamptz := shared._retention_cutoff('RETENTION_DEAD_LETTER_DAYS', p_as_of);
    v_deleted bigint;
BEGIN
    -- Replayed: counted from the replay; never replayed: from when it was dead-lettered (its
    -- event can no longer be sent by then: Meta takes events up to 7 days old).
    WITH doomed AS (
        SELECT d.ctid FROM shared.capi_dead_letter AS d
        WHERE coalesce(d.replayed_at, d.dead_lettered_at) < v_cutoff
        LIMIT shared._retention_batch_size(p_batch_size)
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM shared.capi_dead_letter AS d USING doomed WHERE d.ctid = doomed.ctid;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END
$$;


--
-- Name: FUNCTION retention_delete_dead_letters(p_batch_size integer, p_as_of timestamp with time zone); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.retention_delete_dead_letters(p_batch_size integer, p_as_of timestamp with time zone) IS 'Deletes one batch of dead letters replayed, or dead-lettered, more than RETENTION_DEAD_LETTER_DAYS ago; returns how many.';


--
-- Name: retention_delete_events(integer, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.retention_delete_events(p_batch_size integer DEFAULT NULL::integer, p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_cutoff timestamptz := shared._retention_cutoff('RETENTION_EVENT_DAYS', p_as_of);
    v_deleted bigint;
BEGIN
    -- received_at, not occurred_at: the product chose occurred_at; received_at is ours (and the
    -- column the BRIN index and a future partitioning key are on).
    WITH doomed AS (
        SELECT e.ctid
        FROM shared.event AS e
        WHERE e.received_at < v_cutoff
          AND NOT EXISTS (SELECT 1 FROM pgmq.q_meta_capi AS q
                          WHERE (q.message ->> 'event')::bigint = e.id)
          AND NOT EXISTS (SELECT 1 FROM shared.capi_dead_letter AS d
                          WHERE d.product_id = e.product_id AND d.event_id = e.event_id
                            AND d.replayed_at IS NULL)
        LIMIT shared._retention_batch_size(p_batch_size)
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM shared.event AS e USING doomed WHERE e.ctid = doomed.ctid;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END
$$;


--
-- Name: FUNCTION retention_delete_events(p_batch_size integer, p_as_of timestamp with time zone); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.retention_delete_events(p_batch_size integer, p_as_of timestamp with time zone) IS 'Deletes one batch (RETENTION_BATCH_SIZE, default 5000) of events received more than RETENTION_EVENT_DAYS ago, skipping events still queued for Meta or with a dead letter not replayed, and rows locked by others; returns how many. p_as_of (<= now()) moves the clock back, for simulations.';


--
-- Name: retention_delete_queue_archives(integer, timestamp with time zone); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.retention_delete_queue_archives(p_batch_size integer DEFAULT NULL::integer, p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    v_cutoff timestamptz := shared._retention_cutoff('RETENTION_QUEUE_ARCHIVE_DAYS', p_as_of);
    v_limit integer := shared._retention_batch_size(p_batch_size);
    v_queue text;
    v_count bigint;
    v_deleted bigint := 0;
BEGIN
    -- Every queue's archive, today's and those added later (pgmq.a_<queue>). Partitioned
    -- queues drop whole partitions through pg_partman's own retention instead.
    FOR v_queue IN
        SELECT m.queue_name FROM pgmq.meta AS m WHERE NOT m.is_partitioned ORDER BY m.queue_name
    LOOP
        EXECUTE format(
            'WITH doomed AS (SELECT a.msg_id FROM pgmq.%1$I AS a WHERE a.archived_at < $1'
            ' LIMIT $2 FOR UPDATE SKIP LOCKED)'
            ' DELETE FROM pgmq.%1$I AS a USING doomed WHERE a.msg_id = doomed.msg_id',
            'a_' || v_queue)
        USING v_cutoff, v_limit;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_deleted := v_deleted + v_count;
    END LOOP;
    -- segment_changes announces membership changes to whoever wants them (the PRD's email
    -- tool, a warehouse); with no reader its messages would pile up for ever. One not read
    -- within the window goes as an archived one would. The work queues (meta_capi, meta_leads)
    -- are never trimmed: their messages are owed to Meta.
    IF to_regclass('pgmq.q_segment_changes') IS NOT NULL THEN
        WITH doomed AS (
            SELECT q.msg_id FROM pgmq.q_segment_changes AS q
            WHERE q.enqueued_at < v_cutoff
            LIMIT v_limit
            FOR UPDATE SKIP LOCKED
        )
        DELETE FROM pgmq.q_segment_changes AS q USING doomed WHERE q.msg_id = doomed.msg_id;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_deleted := v_deleted + v_count;
    END IF;
    RETURN v_deleted;
END
$_$;


--
-- Name: FUNCTION retention_delete_queue_archives(p_batch_size integer, p_as_of timestamp with time zone); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.retention_delete_queue_archives(p_batch_size integer, p_as_of timestamp with time zone) IS 'Deletes one batch per queue of archived pgmq messages (pgmq.a_<queue>, ids only) archived more than RETENTION_QUEUE_ARCHIVE_DAYS ago, and of segment_changes messages nobody read in that time; returns how many.';


--
-- Name: dashboard_key; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.dashboard_key (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key_prefix text NOT NULL,
    key_sha256 text NOT NULL,
    label text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text NOT NULL,
    revoked_at timestamp with time zone,
    revoked_by text,
    last_used_at timestamp with time zone,
    CONSTRAINT dashboard_key_revocation_complete CHECK (((revoked_at IS NULL) = (revoked_by IS NULL))),
    CONSTRAINT dashboard_key_sha256_hex CHECK ((key_sha256 ~ '^[0-9a-f]{64}$'::text))
);


--
-- Name: TABLE dashboard_key; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.dashboard_key IS 'Keys of dashboard users (gdp dashboard keys create); read-only access to the insight views.';


--
-- Name: revoke_dashboard_key(uuid, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.revoke_dashboard_key(p_key_id uuid, p_actor text) RETURNS shared.dashboard_key
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_row shared.dashboard_key;
BEGIN
    UPDATE shared.dashboard_key
    SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, v_actor)
    WHERE id = p_key_id
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'key_id', format('no dashboard key %s', p_key_id));
    END IF;
    RETURN v_row;
END
$$;


--
-- Name: FUNCTION revoke_dashboard_key(p_key_id uuid, p_actor text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.revoke_dashboard_key(p_key_id uuid, p_actor text) IS 'Revoke a dashboard key by id; it stops working at once (the API caches successes for a second).';


--
-- Name: revoke_key(uuid, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.revoke_key(p_key_id uuid, p_actor text) RETURNS TABLE(id uuid, product_id text, kind text, revoked_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
#variable_conflict use_column
DECLARE
    v_actor text := shared._require_actor(p_actor);
BEGIN
    RETURN QUERY
    WITH done AS (
        UPDATE shared.service_key AS k
        SET revoked_at = coalesce(k.revoked_at, now()), revoked_by = coalesce(k.revoked_by, v_actor)
        WHERE k.id = p_key_id
        RETURNING k.id, k.product_id, k.revoked_at)
    SELECT d.id, d.product_id, 'service_key'::text, d.revoked_at FROM done AS d;
    IF FOUND THEN
        INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value)
        VALUES ('service_key', p_key_id::text, v_actor, to_jsonb('created'::text),
                to_jsonb('revoked'::text));
        RETURN;
    END IF;
    RETURN QUERY
    WITH done AS (
        UPDATE shared.product_credential AS c
        SET revoked_at = coalesce(c.revoked_at, now()), revoked_by = coalesce(c.revoked_by, v_actor)
        WHERE c.id = p_key_id
        RETURNING c.id, c.product_id, c.revoked_at)
    SELECT d.id, d.product_id, 'product_jwt'::text, d.revoked_at FROM done AS d;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'key_id', format('no service key or product credential %s', p_key_id));
    END IF;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value)
    VALUES ('product_credential', p_key_id::text, v_actor, to_jsonb('created'::text),
            to_jsonb('revoked'::text));
END
$$;


--
-- Name: FUNCTION revoke_key(p_key_id uuid, p_actor text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.revoke_key(p_key_id uuid, p_actor text) IS 'Revoke an HTTP service key or a product JWT by its id (gdp keys revoke). A revoked JWT is refused from the next statement on.';


--
-- Name: service_key; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.service_key (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    product_id text NOT NULL,
    key_prefix text NOT NULL,
    key_sha256 text NOT NULL,
    label text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text NOT NULL,
    revoked_at timestamp with time zone,
    revoked_by text,
    last_used_at timestamp with time zone,
    CONSTRAINT service_key_revocation_complete CHECK (((revoked_at IS NULL) = (revoked_by IS NULL))),
    CONSTRAINT service_key_sha256_hex CHECK ((key_sha256 ~ '^[0-9a-f]{64}$'::text))
);


--
-- Name: revoke_service_key(uuid, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.revoke_service_key(p_key_id uuid, p_actor text) RETURNS shared.service_key
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_row shared.service_key;
BEGIN
    UPDATE shared.service_key
    SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, v_actor)
    WHERE id = p_key_id
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'key_id', format('no service key %s', p_key_id));
    END IF;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value)
    VALUES ('service_key', p_key_id::text, v_actor, to_jsonb('created'::text),
            to_jsonb('revoked'::text));
    RETURN v_row;
END
$$;


--
-- Name: FUNCTION revoke_service_key(p_key_id uuid, p_actor text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.revoke_service_key(p_key_id uuid, p_actor text) IS 'Revoke a service key (idempotent; the first revocation''s time and actor are kept).';


--
-- Name: run_retention(integer, integer, timestamp with time zone, bigint, bigint, bigint, bigint, integer, boolean); Type: PROCEDURE; Schema: shared; Owner: -
--

CREATE PROCEDURE shared.run_retention(IN p_batch_size integer DEFAULT NULL::integer, IN p_max_seconds integer DEFAULT 60, IN p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone, INOUT events bigint DEFAULT 0, INOUT attribution_events bigint DEFAULT 0, INOUT dead_letters bigint DEFAULT 0, INOUT queue_archive bigint DEFAULT 0, INOUT rounds integer DEFAULT 0, INOUT ran boolean DEFAULT false)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_deadline timestamptz := pg_catalog.clock_timestamp()
                              + make_interval(secs => greatest(p_max_seconds, 1));
    v_round record;
    v_total bigint;
BEGIN
    events := 0; attribution_events := 0; dead_letters := 0; queue_archive := 0; rounds := 0;
    ran := pg_catalog.pg_try_advisory_lock(shared._retention_lock_key());
    IF NOT ran THEN
        RETURN;
    END IF;
    -- No exception block (a procedure cannot commit inside one): on an error the lock is
    -- released when the session ends, which pg_cron's and the worker's sessions then do.
    LOOP
        v_total := 0;
        FOR v_round IN SELECT * FROM shared.apply_retention(p_batch_size, p_as_of) LOOP
            v_total := v_total + v_round.deleted;
            CASE v_round.target
                WHEN 'event' THEN events := events + v_round.deleted;
                WHEN 'attribution_events' THEN
                    attribution_events := attribution_events + v_round.deleted;
                WHEN 'capi_dead_letter' THEN dead_letters := dead_letters + v_round.deleted;
                ELSE queue_archive := queue_archive + v_round.deleted;
            END CASE;
        END LOOP;
        rounds := rounds + 1;
        COMMIT;
        EXIT WHEN v_total = 0 OR pg_catalog.clock_timestamp() >= v_deadline;
    END LOOP;
    PERFORM pg_catalog.pg_advisory_unlock(shared._retention_lock_key());
END
$$;


--
-- Name: PROCEDURE run_retention(IN p_batch_size integer, IN p_max_seconds integer, IN p_as_of timestamp with time zone, INOUT events bigint, INOUT attribution_events bigint, INOUT dead_letters bigint, INOUT queue_archive bigint, INOUT rounds integer, INOUT ran boolean); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON PROCEDURE shared.run_retention(IN p_batch_size integer, IN p_max_seconds integer, IN p_as_of timestamp with time zone, INOUT events bigint, INOUT attribution_events bigint, INOUT dead_letters bigint, INOUT queue_archive bigint, INOUT rounds integer, INOUT ran boolean) IS 'Applies retention until nothing is left past its window or p_max_seconds pass, committing after every round of batches; answers the rows deleted per table, the rounds, and ran = false when another session was already running it. CALL it outside a transaction block (pg_cron, gdp worker maintenance).';


--
-- Name: segment; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.segment (
    segment_id text NOT NULL,
    description text NOT NULL,
    owner text NOT NULL,
    audience_name text,
    enabled boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    last_evaluated_at timestamp with time zone,
    last_error text,
    CONSTRAINT segment_audience_name_length CHECK (((length(audience_name) >= 1) AND (length(audience_name) <= 200))),
    CONSTRAINT segment_description_length CHECK (((length(description) >= 1) AND (length(description) <= 500))),
    CONSTRAINT segment_id_format CHECK ((segment_id ~ '^[a-z][a-z0-9_]{1,62}$'::text)),
    CONSTRAINT segment_owner_length CHECK (((length(owner) >= 1) AND (length(owner) <= 200)))
);


--
-- Name: TABLE segment; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.segment IS 'Registered segments: each is the view segments.<segment_id>, returning person_id.';


--
-- Name: segment_define(text, text, boolean, text, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.segment_define(p_segment_id text, p_query text, p_create boolean, p_description text DEFAULT NULL::text, p_owner text DEFAULT NULL::text, p_audience_name text DEFAULT NULL::text) RETURNS shared.segment
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_row shared.segment;
    v_exists boolean;
BEGIN
    v_exists := EXISTS (SELECT 1 FROM shared.segment AS s WHERE s.segment_id = p_segment_id);
    IF p_create AND v_exists THEN
        PERFORM shared._raise('GD409', 'segment', format('%s exists; use edit', p_segment_id));
    ELSIF NOT p_create AND NOT v_exists THEN
        PERFORM shared._raise('GD404', 'segment', format('no segment %s', p_segment_id));
    END IF;
    IF p_create AND (p_description IS NULL OR p_owner IS NULL) THEN
        PERFORM shared._raise('GD400', CASE WHEN p_description IS NULL THEN 'description'
                                            ELSE 'owner' END,
                              'is required for a new segment');
    END IF;
    IF length(p_description) NOT BETWEEN 1 AND 500 THEN
        PERFORM shared._raise('GD400', 'description', 'must be 1-500 characters');
    ELSIF length(p_owner) NOT BETWEEN 1 AND 200 THEN
        PERFORM shared._raise('GD400', 'owner', 'must be 1-200 characters');
    ELSIF length(p_audience_name) NOT BETWEEN 1 AND 200 THEN
        PERFORM shared._raise('GD400', 'audience', 'must be 1-200 characters');
    END IF;

    PERFORM shared._segment_make_view(p_segment_id, p_query);

    IF p_create THEN
        INSERT INTO shared.segment (segment_id, description, owner, audience_name)
        VALUES (p_segment_id, p_description, p_owner, p_audience_name)
        RETURNING * INTO v_row;
    ELSE
        UPDATE shared.segment AS s SET
            description = coalesce(p_description, s.description),
            owner = coalesce(p_owner, s.owner),
            audience_name = coalesce(p_audience_name, s.audience_name),
            updated_at = now(),
            last_error = NULL
        WHERE s.segment_id = p_segment_id
        RETURNING * INTO v_row;
    END IF;
    RETURN v_row;
END
$$;


--
-- Name: FUNCTION segment_define(p_segment_id text, p_query text, p_create boolean, p_description text, p_owner text, p_audience_name text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.segment_define(p_segment_id text, p_query text, p_create boolean, p_description text, p_owner text, p_audience_name text) IS 'Create (p_create) or change the segment view segments.<id> from one SELECT returning person_id, validated (person_id uuid, no duplicates, reads raw PII only through shared.person), and its registry row; a refused query changes nothing (GD400/GD404/GD409 naming the field).';


--
-- Name: segment_preview(text, text, integer); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.segment_preview(p_segment_id text, p_query text, p_sample integer DEFAULT 5) RETURNS TABLE(members bigint, joining bigint, leaving bigint, staying bigint, sample_joining uuid[], sample_leaving uuid[])
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    v_members bigint;
    v_join bigint;
    v_leave bigint;
    v_stay bigint;
    v_sj uuid[];
    v_sl uuid[];
BEGIN
    BEGIN
        PERFORM shared._segment_make_view(p_segment_id, p_query);
        EXECUTE format($q$
            WITH cur AS (SELECT DISTINCT v.person_id FROM segments.%I AS v),
                 mem AS (SELECT m.person_id FROM shared.segment_member AS m
                         WHERE m.segment_id = $1)
            SELECT (SELECT count(*) FROM cur),
                   (SELECT count(*) FROM cur WHERE cur.person_id NOT IN (SELECT person_id FROM mem)),
                   (SELECT count(*) FROM mem WHERE mem.person_id NOT IN (SELECT person_id FROM cur)),
                   (SELECT count(*) FROM cur WHERE cur.person_id IN (SELECT person_id FROM mem)),
                   ARRAY(SELECT cur.person_id FROM cur
                         WHERE cur.person_id NOT IN (SELECT person_id FROM mem)
                         ORDER BY 1 LIMIT $2),
                   ARRAY(SELECT mem.person_id FROM mem
                         WHERE mem.person_id NOT IN (SELECT person_id FROM cur)
                         ORDER BY 1 LIMIT $2)
            $q$, p_segment_id)
        INTO v_members, v_join, v_leave, v_stay, v_sj, v_sl
        USING p_segment_id, greatest(p_sample, 0);
        RAISE EXCEPTION USING ERRCODE = 'GDROL', MESSAGE = 'preview: rolled back';
    EXCEPTION WHEN SQLSTATE 'GDROL' THEN
        NULL;  -- the view made above is gone again; the numbers stay
    END;
    RETURN QUERY SELECT v_members, v_join, v_leave, v_stay, v_sj, v_sl;
END
$_$;


--
-- Name: FUNCTION segment_preview(p_segment_id text, p_query text, p_sample integer); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.segment_preview(p_segment_id text, p_query text, p_sample integer) IS 'Size of a segment query and its diff against the current membership (joining, leaving, staying, with samples), refused like segment_define; saves nothing.';


--
-- Name: segment_worker_config(); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.segment_worker_config() RETURNS TABLE(enabled boolean, interval_s integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED'),
           coalesce((shared.setting_value('SEGMENT_ENGINE_CRON_INTERVAL') #>> '{}')::integer, 300)
$$;


--
-- Name: FUNCTION segment_worker_config(); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.segment_worker_config() IS 'For gdp worker segments: whether GAP-002 (SEGMENT_ENGINE_META_CAPI_ENABLED) is on and SEGMENT_ENGINE_CRON_INTERVAL in seconds (default 300).';


--
-- Name: set_lifecycle_stage(uuid, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.set_lifecycle_stage(p_person_id uuid, p_stage text) RETURNS shared.lifecycle_stage
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF coalesce(p_stage, '') <> ALL (enum_range(NULL::shared.lifecycle_stage)::text[]) THEN
        PERFORM shared._raise('GD400', 'lifecycle_stage',
            'must be one of lead, activated, customer, churned');
    END IF;
    UPDATE shared.person SET lifecycle_stage = p_stage::shared.lifecycle_stage
    WHERE id = p_person_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;
    RETURN p_stage::shared.lifecycle_stage;
END
$$;


--
-- Name: FUNCTION set_lifecycle_stage(p_person_id uuid, p_stage text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.set_lifecycle_stage(p_person_id uuid, p_stage text) IS 'Move a person to a lifecycle stage explicitly, backwards too (e.g. churned -> customer).';


--
-- Name: setting; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.setting (
    setting_key text NOT NULL,
    scope text DEFAULT 'global'::text NOT NULL,
    value jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_by text NOT NULL
);


--
-- Name: set_setting(text, jsonb, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.set_setting(p_setting_key text, p_value jsonb, p_actor text, p_scope text DEFAULT 'global'::text) RETURNS shared.setting
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_def shared.setting_definition;
    v_scope text := coalesce(nullif(shared._trim(p_scope), ''), 'global');
    v_before jsonb;
    v_json_type text;
    v_row shared.setting;
BEGIN
    SELECT * INTO v_def FROM shared.setting_definition WHERE setting_key = p_setting_key;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'setting', format('no setting %s', p_setting_key));
    END IF;
    IF v_scope <> 'global' THEN
        IF NOT v_def.per_product THEN
            PERFORM shared._raise('GD400', 'scope',
                format('%s is global; it cannot be set per product', p_setting_key));
        END IF;
        PERFORM 1 FROM shared.product WHERE product_id = v_scope;
        IF NOT FOUND THEN
            PERFORM shared._raise('GD400', 'scope', format('%s is not a known product', v_scope));
        END IF;
    END IF;
    v_json_type := (ARRAY['string', 'number', 'boolean', 'object', 'array'])[
        array_position(ARRAY['text', 'integer', 'boolean', 'object', 'array'], v_def.value_type)];
    -- Ids such as pixel ids arrive as JSON numbers from many clients; they are text here.
    IF v_def.value_type = 'text' AND jsonb_typeof(p_value) = 'number' THEN
        p_value := to_jsonb(p_value #>> '{}');
    END IF;
    IF p_value IS NULL OR jsonb_typeof(p_value) <> v_json_type THEN
        PERFORM shared._raise('GD400', p_setting_key, 'must be ' || CASE v_def.value_type
            WHEN 'text' THEN 'a string' WHEN 'integer' THEN 'a whole number'
            WHEN 'boolean' THEN 'true or false' WHEN 'array' THEN 'a JSON array'
            ELSE 'a JSON object' END);
    END IF;
    IF v_def.value_type = 'integer' AND (
           (p_value #>> '{}')::numeric <> trunc((p_value #>> '{}')::numeric)
        OR (v_def.min_value IS NOT NULL AND (p_value #>> '{}')::numeric < v_def.min_value)
        OR (v_def.max_value IS NOT NULL AND (p_value #>> '{}')::numeric > v_def.max_value)) THEN
        PERFORM shared._raise('GD400', p_setting_key,
            format('must be a whole number from %s to %s', v_def.min_value, v_def.max_value));
    END IF;
    IF v_def.value_type = 'text' AND v_def.value_pattern IS NOT NULL
       AND (p_value #>> '{}') !~ v_def.value_pattern THEN
        PERFORM shared._raise('GD400', p_setting_key,
            format('must match %s', v_def.value_pattern));
    END IF;

    SELECT value INTO v_before FROM shared.setting
    WHERE setting_key = p_setting_key AND scope = v_scope;
    INSERT INTO shared.setting (setting_key, scope, value, updated_by)
    VALUES (p_setting_key, v_scope, p_value, v_actor)
    ON CONFLICT (setting_key, scope) DO UPDATE
        SET value = excluded.value, updated_by = excluded.updated_by, updated_at = now()
    RETURNING * INTO v_row;
    IF v_before IS DISTINCT FROM p_value THEN
        INSERT INTO shared.gate_audit (subject_kind, subject_key, scope, actor, from_value, to_value)
        VALUES ('setting', p_setting_key, v_scope, v_actor, v_before, p_value);
    END IF;
    RETURN v_row;
END
$$;


--
-- Name: FUNCTION set_setting(p_setting_key text, p_value jsonb, p_actor text, p_scope text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.set_setting(p_setting_key text, p_value jsonb, p_actor text, p_scope text) IS 'Set a non-secret setting, globally or for one product, checked against its definition (value type and pattern, known product scope); audited.';


--
-- Name: setting_value(text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.setting_value(p_setting_key text, p_scope text DEFAULT 'global'::text) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT s.value
    FROM shared.setting AS s
    WHERE s.setting_key = p_setting_key AND s.scope IN (coalesce(p_scope, 'global'), 'global')
    ORDER BY (s.scope = 'global')
    LIMIT 1
$$;


--
-- Name: FUNCTION setting_value(p_setting_key text, p_scope text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.setting_value(p_setting_key text, p_scope text) IS 'A setting''s value for a scope: the product''s own (p_scope = its product id), else the global one, else NULL.';


--
-- Name: sync_lead(bigint, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.sync_lead(p_msg_id bigint, p_lead jsonb) RETURNS TABLE(leadgen_id text, status text, person_id uuid, created boolean, project_id text, problem text)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT * FROM shared.sync_leads(jsonb_build_array(
        jsonb_build_object('msg_id', p_msg_id, 'lead', p_lead)))
$$;


--
-- Name: FUNCTION sync_lead(p_msg_id bigint, p_lead jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.sync_lead(p_msg_id bigint, p_lead jsonb) IS 'The PRD''s syncLeadToPerson on one Meta lead object: see shared.sync_leads.';


--
-- Name: sync_leads(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.sync_leads(p_items jsonb) RETURNS TABLE(leadgen_id text, status text, person_id uuid, created boolean, project_id text, problem text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    v_item jsonb;
    v_lead jsonb;
    v_id text;
    v_row shared.meta_lead;
    v_mapped record;
    v_work jsonb := '[]'::jsonb;
    v_done jsonb := '[]'::jsonb;
    v_archive bigint[] := '{}';
BEGIN
    IF p_items IS NULL OR jsonb_typeof(p_items) <> 'array' THEN
        PERFORM shared._raise('GD400', 'items', 'must be a JSON array of {msg_id, lead}');
    END IF;
    FOR v_item IN SELECT e.value FROM jsonb_array_elements(p_items) AS e ORDER BY e.value -> 'lead' ->> 'id'
    LOOP
        v_lead := v_item -> 'lead';
        v_id := v_lead ->> 'id';
        IF jsonb_typeof(v_lead) IS DISTINCT FROM 'object' OR coalesce(v_id, '') !~ '^[0-9]{1,30}$' THEN
            PERFORM shared._raise('GD400', 'lead', 'must be Meta''s lead object with its numeric id');
        END IF;
        IF (v_item ->> 'msg_id') IS NOT NULL THEN
            v_archive := v_archive || (v_item ->> 'msg_id')::bigint;
        END IF;
        SELECT * INTO v_row FROM shared.meta_lead AS l WHERE l.leadgen_id = v_id FOR UPDATE;
        IF NOT FOUND THEN
            -- A lead found by a backfill rather than a notification.
            IF coalesce(v_lead ->> 'form_id', '') !~ '^[0-9]{1,30}$' THEN
                PERFORM shared._raise('GD400', 'form_id', 'is required for a lead not yet notified');
            END IF;
            INSERT INTO shared.meta_lead (leadgen_id, page_id, form_id, ad_id, deliveries)
            VALUES (v_id, coalesce(v_lead ->> 'page_id', '0'), v_lead ->> 'form_id',
                    v_lead ->> 'ad_id', 0)
            RETURNING * INTO v_row;
        END IF;
        IF v_row.status = 'synced' OR v_work @> jsonb_build_array(jsonb_build_object('id', v_id)) THEN
            v_done := v_done || jsonb_build_object('id', v_id, 'status', v_row.status,
                                                   'person_id', v_row.person_id,
                                                   'project_id', v_row.project_id);
            CONTINUE;
        END IF;
        SELECT * INTO v_mapped FROM shared._lead_as_person(v_lead, v_row);
        v_work := v_work || jsonb_build_object(
            'id', v_id, 'person', v_mapped.person, 'project_id', v_mapped.project_id,
            'campaign_id', v_mapped.campaign_id, 'created_time', v_mapped.created_time,
            'problem', v_mapped.problem, 'lead', v_lead);
    END LOOP;

    RETURN QUERY
    WITH work AS (
        SELECT w.ord, w.value ->> 'id' AS id, nullif(w.value -> 'person', 'null') AS person,
               w.value ->> 'project_id' AS project_id, w.value ->> 'campaign_id' AS campaign_id,
               (w.value ->> 'created_time')::timestamptz AS created_time,
               w.value ->> 'problem' AS problem, w.value -> 'lead' AS lead
        FROM jsonb_array_elements(v_work) WITH ORDINALITY AS w(value, ord)
    ), valid AS (
        SELECT wk.*, row_number() OVER (ORDER BY wk.ord) AS n
        FROM work AS wk WHERE wk.person IS NOT NULL
    ), people AS (
        SELECT u.ordinal, u.person_id, u.created
        FROM shared.upsert_people(coalesce(
            (SELECT jsonb_agg(v.person ORDER BY v.n) FROM valid AS v), '[]'::jsonb)) AS u
    ), synced AS (
        SELECT wk.*, pe.person_id, coalesce(pe.created, false) AS created
        FROM work AS wk
        LEFT JOIN valid AS v ON v.id = wk.id
        LEFT JOIN people AS pe ON pe.ordinal = v.n
    ), events AS (
        INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at,
                                  source, action_source, properties)
        SELECT s.project_id, 'meta_lead:' || s.id, 'LeadFormSubmitted', s.person_id,
               coalesce(s.created_time, now()), 'lead_form', 'system_generated',
               jsonb_strip_nulls(jsonb_build_object(
                   'leadgen_id', s.id, 'form_id', s.lead ->> 'form_id',
                   'ad_id', s.lead ->> 'ad_id', 'campaign_id', s.campaign_id))
        FROM synced AS s
        WHERE s.person_id IS NOT NULL
        ON CONFLICT ON CONSTRAINT event_product_id_event_id_key DO NOTHING
        RETURNING 1
    ), recorded AS (
        UPDATE shared.meta_lead AS l SET
            status = CASE WHEN s.person_id IS NOT NULL THEN 'synced' ELSE 'failed' END,
            attempts = l.attempts + 1,
            person_id = s.person_id,
            project_id = s.project_id,
            synced_at = CASE WHEN s.person_id IS NOT NULL THEN now() END,
            ad_id = coalesce(s.lead ->> 'ad_id', l.ad_id),
            adset_id = coalesce(s.lead ->> 'adset_id', l.adset_id),
            campaign_id = s.campaign_id,
            is_organic = coalesce((s.lead ->> 'is_organic')::boolean, l.is_organic),
            created_time = coalesce(s.created_time, l.created_time),
            field_names = ARRAY(SELECT f ->> 'name' FROM jsonb_array_elements(
                                    CASE WHEN jsonb_typeof(s.lead -> 'field_data') = 'array'
                                         THEN s.lead -> 'field_data' ELSE '[]'::jsonb END) AS f
                                WHERE f ->> 'name' IS NOT NULL ORDER BY 1),
            error_code = NULL,
            error_subcode = NULL,
            error_message = s.problem
        FROM synced AS s
        WHERE l.leadgen_id = s.id
        RETURNING l.leadgen_id, l.status, l.person_id, l.project_id
    )
    SELECT r.leadgen_id, r.status, r.person_id, s.created, r.project_id, s.problem
    FROM recorded AS r JOIN synced AS s ON s.id = r.leadgen_id
    WHERE (SELECT count(*) FROM events) >= 0
    UNION ALL
    SELECT d.value ->> 'id', d.value ->> 'status', (d.value ->> 'person_id')::uuid, false,
           d.value ->> 'project_id', NULL::text
    FROM jsonb_array_elements(v_done) AS d;

    IF cardinality(v_archive) > 0 THEN
        PERFORM pgmq.archive('meta_leads', v_archive);
    END IF;
END
$_$;


--
-- Name: FUNCTION sync_leads(p_items jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.sync_leads(p_items jsonb) IS 'The PRD''s syncLeadToPerson for a batch of Meta lead objects ([{msg_id, lead}]): people upserted by email in one call with first touch from the campaign, lead ids linked (meta_lead), LeadFormSubmitted events stored, leads recorded and messages archived; one transaction, idempotent.';


--
-- Name: unset_setting(text, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.unset_setting(p_setting_key text, p_actor text, p_scope text DEFAULT 'global'::text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_before jsonb;
BEGIN
    DELETE FROM shared.setting
    WHERE setting_key = p_setting_key AND scope = coalesce(nullif(shared._trim(p_scope), ''), 'global')
    RETURNING value INTO v_before;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, scope, actor, from_value, to_value)
    VALUES ('setting', p_setting_key, coalesce(nullif(shared._trim(p_scope), ''), 'global'), v_actor,
            v_before, NULL);
    RETURN true;
END
$$;


--
-- Name: FUNCTION unset_setting(p_setting_key text, p_actor text, p_scope text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.unset_setting(p_setting_key text, p_actor text, p_scope text) IS 'Remove a setting for a scope (audited); false when it was not set.';


--
-- Name: upsert_people(jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.upsert_people(p_people jsonb) RETURNS TABLE(ordinal integer, person_id uuid, created boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
#variable_conflict use_column
DECLARE
    v_problem record;
    v_conflict record;
BEGIN
    -- A product (role gdp_product) upserts only as itself (db/functions/15_identity.sql).
    p_people := shared._people_for_caller(p_people);
    IF p_people IS NULL OR jsonb_typeof(p_people) <> 'array' THEN
        PERFORM shared._raise('GD400', 'people', 'must be a JSON array of person objects');
    END IF;

    SELECT * INTO v_problem FROM shared._people_input_problem(p_people);
    IF FOUND THEN
        PERFORM shared._raise('GD400', v_problem.field,
            format('%s (entry %s)', v_problem.rule, v_problem.ord));
    END IF;

    RETURN QUERY
    WITH input AS (
        SELECT e.ord::integer AS ord,
               shared._normalize_email(e.v ->> 'email') AS email,
               shared._normalize_phone(nullif(shared._trim(e.v ->> 'phone'), '')) AS phone,
               nullif(shared._trim(e.v ->> 'first_name'), '') AS first_name,
               nullif(shared._trim(e.v ->> 'last_name'), '') AS last_name,
               nullif(shared._trim(e.v ->> 'city'), '') AS city,
               nullif(shared._trim(e.v ->> 'state'), '') AS state,
               nullif(shared._trim(e.v ->> 'zip'), '') AS zip,
               upper(nullif(shared._trim(e.v ->> 'country'), '')) AS country,
               shared._try_iso_date(nullif(shared._trim(e.v ->> 'date_of_birth'), '')) AS date_of_birth,
               shared._normalize_gender(nullif(shared._trim(e.v ->> 'gender'), '')) AS gender,
               nullif(shared._trim(e.v ->> 'utm_source'), '') AS utm_source,
               nullif(shared._trim(e.v ->> 'utm_medium'), '') AS utm_medium,
               nullif(shared._trim(e.v ->> 'utm_campaign'), '') AS utm_campaign,
               nullif(shared._trim(e.v ->> 'utm_content'), '') AS utm_content,
               nullif(shared._trim(e.v ->> 'utm_term'), '') AS utm_term,
               nullif(shared._trim(e.v ->> 'meta_fbp'), '') AS meta_fbp,
               nullif(shared._trim(e.v ->> 'meta_fbc'), '') AS meta_fbc,
               nullif(shared._trim(e.v ->> 'meta_lead_form_id'), '') AS meta_lead_form_id,
               nullif(shared._trim(e.v ->> 'source_product'), '') AS source_product,
               nullif(shared._trim(e.v ->> 'lifecycle_stage'), '')::shared.lifecycle_stage AS lifecycle_stage,
               CASE WHEN jsonb_typeof(e.v -> 'properties') = 'object'
                    THEN e.v -> 'properties' ELSE '{}'::jsonb END AS properties
        FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    ), merged AS (
        -- Variants of one email in one call become one row; the first non-empty value wins.
        SELECT i.email,
               min(i.ord) AS first_ord,
               (array_agg(i.phone ORDER BY i.ord) FILTER (WHERE i.phone IS NOT NULL))[1] AS phone,
               (array_agg(i.first_name ORDER BY i.ord) FILTER (WHERE i.first_name IS NOT NULL))[1] AS first_name,
               (array_agg(i.last_name ORDER BY i.ord) FILTER (WHERE i.last_name IS NOT NULL))[1] AS last_name,
               (array_agg(i.city ORDER BY i.ord) FILTER (WHERE i.city IS NOT NULL))[1] AS city,
               (array_agg(i.state ORDER BY i.ord) FILTER (WHERE i.state IS NOT NULL))[1] AS state,
               (array_agg(i.zip ORDER BY i.ord) FILTER (WHERE i.zip IS NOT NULL))[1] AS zip,
               (array_agg(i.country ORDER BY i.ord) FILTER (WHERE i.country IS NOT NULL))[1] AS country,
               (array_agg(i.date_of_birth ORDER BY i.ord) FILTER (WHERE i.date_of_birth IS NOT NULL))[1] AS date_of_birth,
               (array_agg(i.gender ORDER BY i.ord) FILTER (WHERE i.gender IS NOT NULL))[1] AS gender,
               (array_agg(i.utm_source ORDER BY i.ord) FILTER (WHERE i.utm_source IS NOT NULL))[1] AS utm_source,
               (array_agg(i.utm_medium ORDER BY i.ord) FILTER (WHERE i.utm_medium IS NOT NULL))[1] AS utm_medium,
               (array_agg(i.utm_campaign ORDER BY i.ord) FILTER (WHERE i.utm_campaign IS NOT NULL))[1] AS utm_campaign,
               (array_agg(i.utm_content ORDER BY i.ord) FILTER (WHERE i.utm_content IS NOT NULL))[1] AS utm_content,
               (array_agg(i.utm_term ORDER BY i.ord) FILTER (WHERE i.utm_term IS NOT NULL))[1] AS utm_term,
               (array_agg(i.meta_fbp ORDER BY i.ord) FILTER (WHERE i.meta_fbp IS NOT NULL))[1] AS meta_fbp,
               (array_agg(i.meta_fbc ORDER BY i.ord) FILTER (WHERE i.meta_fbc IS NOT NULL))[1] AS meta_fbc,
               (array_agg(i.meta_lead_form_id ORDER BY i.ord) FILTER (WHERE i.meta_lead_form_id IS NOT NULL))[1] AS meta_lead_form_id,
               (array_agg(i.source_product ORDER BY i.ord) FILTER (WHERE i.source_product IS NOT NULL))[1] AS source_product,
               max(i.lifecycle_stage) AS lifecycle_stage,
               shared._jsonb_fill(i.properties ORDER BY i.ord) AS properties
        FROM input AS i
        GROUP BY i.email
    ), upserted AS (
        INSERT INTO shared.person AS p (
            email, phone, first_name, last_name, city, state, zip, country, date_of_birth,
            gender, utm_source, utm_medium, utm_campaign, utm_content, utm_term, meta_fbp,
            meta_fbc, meta_lead_form_id, source_product, lifecycle_stage, properties)
        SELECT m.email, m.phone, m.first_name, m.last_name, m.city, m.state, m.zip, m.country,
               m.date_of_birth, m.gender, m.utm_source, m.utm_medium, m.utm_campaign,
               m.utm_content, m.utm_term, m.meta_fbp, m.meta_fbc, m.meta_lead_form_id,
               m.source_product, coalesce(m.lifecycle_stage, 'lead'), m.properties
        FROM merged AS m
        ORDER BY m.first_ord
        ON CONFLICT (email) DO UPDATE SET
            phone = coalesce(p.phone, excluded.phone),
            first_name = coalesce(p.first_name, excluded.first_name),
            last_name = coalesce(p.last_name, excluded.last_name),
            city = coalesce(p.city, excluded.city),
            state = coalesce(p.state, excluded.state),
            zip = coalesce(p.zip, excluded.zip),
            country = coalesce(p.country, excluded.country),
            date_of_birth = coalesce(p.date_of_birth, excluded.date_of_birth),
            gender = coalesce(p.gender, excluded.gender),
            utm_source = coalesce(p.utm_source, excluded.utm_source),
            utm_medium = coalesce(p.utm_medium, excluded.utm_medium),
            utm_campaign = coalesce(p.utm_campaign, excluded.utm_campaign),
            utm_content = coalesce(p.utm_content, excluded.utm_content),
            utm_term = coalesce(p.utm_term, excluded.utm_term),
            meta_fbp = coalesce(p.meta_fbp, excluded.meta_fbp),
            meta_fbc = coalesce(p.meta_fbc, excluded.meta_fbc),
            meta_lead_form_id = coalesce(p.meta_lead_form_id, excluded.meta_lead_form_id),
            source_product = coalesce(p.source_product, excluded.source_product),
            lifecycle_stage = greatest(p.lifecycle_stage, excluded.lifecycle_stage),
            properties = excluded.properties || p.properties
        RETURNING p.id, p.email, (p.xmax = 0) AS was_inserted
    ), linked AS (
        INSERT INTO shared.identity_link (person_id, provider, external_id, metadata)
        SELECT u.id, idn.v ->> 'provider', idn.v ->> 'external_id',
               coalesce(idn.v -> 'metadata', '{}'::jsonb)
        FROM input AS i
        JOIN upserted AS u ON u.email = i.email
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(p_people -> (i.ord - 1) -> 'identities') = 'array'
                 THEN p_people -> (i.ord - 1) -> 'identities' ELSE '[]'::jsonb END) AS idn(v)
        ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT identity_link_provider_external_id_key DO NOTHING
        RETURNING 1
    )
    -- "linked" runs to completion although nothing reads it (data-modifying CTEs always do).
    SELECT i.ord, u.id, u.was_inserted
    FROM input AS i
    JOIN upserted AS u ON u.email = i.email
    ORDER BY i.ord;

    -- An identity that already belonged to someone else (or is claimed twice in this call) is
    -- refused, never silently moved; raising here rolls the whole call back.
    SELECT e.ord, idn.v ->> 'provider' AS provider, l.person_id AS owner INTO v_conflict
    FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(e.v -> 'identities') = 'array'
             THEN e.v -> 'identities' ELSE '[]'::jsonb END) AS idn(v)
    JOIN shared.person AS p ON p.email = shared._normalize_email(e.v ->> 'email')
    JOIN shared.identity_link AS l
      ON l.provider = idn.v ->> 'provider' AND l.external_id = idn.v ->> 'external_id'
    WHERE l.person_id <> p.id
    ORDER BY e.ord
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD409', 'identities',
            format('the %s identity is already linked to another person (%s) (entry %s)',
                   v_conflict.provider, v_conflict.owner, v_conflict.ord));
    END IF;
END
$$;


--
-- Name: FUNCTION upsert_people(p_people jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.upsert_people(p_people jsonb) IS 'Upsert people by email, many at once (the PRD''s syncLeadToPerson): case variants are one person, first touch kept, empty fields filled, lifecycle only advances, identities linked; an invalid entry fails the call (GD400) naming entry and field.';


--
-- Name: upsert_person(text, text, text, text, text, text, text, text, text, text, text, text, text, text, jsonb, jsonb); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.upsert_person(p_email text, p_phone text DEFAULT NULL::text, p_first_name text DEFAULT NULL::text, p_last_name text DEFAULT NULL::text, p_utm_source text DEFAULT NULL::text, p_utm_medium text DEFAULT NULL::text, p_utm_campaign text DEFAULT NULL::text, p_utm_content text DEFAULT NULL::text, p_utm_term text DEFAULT NULL::text, p_meta_fbp text DEFAULT NULL::text, p_meta_fbc text DEFAULT NULL::text, p_meta_lead_form_id text DEFAULT NULL::text, p_source_product text DEFAULT NULL::text, p_lifecycle_stage text DEFAULT NULL::text, p_properties jsonb DEFAULT NULL::jsonb, p_identities jsonb DEFAULT NULL::jsonb) RETURNS uuid
    LANGUAGE sql
    AS $$
    SELECT u.person_id
    FROM shared.upsert_people(jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
        'email', p_email, 'phone', p_phone, 'first_name', p_first_name,
        'last_name', p_last_name, 'utm_source', p_utm_source, 'utm_medium', p_utm_medium,
        'utm_campaign', p_utm_campaign, 'utm_content', p_utm_content, 'utm_term', p_utm_term,
        'meta_fbp', p_meta_fbp, 'meta_fbc', p_meta_fbc,
        'meta_lead_form_id', p_meta_lead_form_id, 'source_product', p_source_product,
        'lifecycle_stage', p_lifecycle_stage, 'properties', p_properties,
        'identities', p_identities)))) AS u
$$;


--
-- Name: FUNCTION upsert_person(p_email text, p_phone text, p_first_name text, p_last_name text, p_utm_source text, p_utm_medium text, p_utm_campaign text, p_utm_content text, p_utm_term text, p_meta_fbp text, p_meta_fbc text, p_meta_lead_form_id text, p_source_product text, p_lifecycle_stage text, p_properties jsonb, p_identities jsonb); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.upsert_person(p_email text, p_phone text, p_first_name text, p_last_name text, p_utm_source text, p_utm_medium text, p_utm_campaign text, p_utm_content text, p_utm_term text, p_meta_fbp text, p_meta_fbc text, p_meta_lead_form_id text, p_source_product text, p_lifecycle_stage text, p_properties jsonb, p_identities jsonb) IS 'Upsert one person with named arguments (the PostgREST RPC shape), by the rules of upsert_people; returns the person''s id.';


--
-- Name: withdraw_checklist_acknowledgement(text, text, text); Type: FUNCTION; Schema: shared; Owner: -
--

CREATE FUNCTION shared.withdraw_checklist_acknowledgement(p_item_key text, p_actor text, p_note text DEFAULT NULL::text) RETURNS shared.deploy_checklist_item
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_item shared.deploy_checklist_item;
    v_before text;
BEGIN
    SELECT * INTO v_item FROM shared.deploy_checklist_item WHERE item_key = p_item_key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'item', format('no checklist item %s', p_item_key));
    END IF;
    v_before := v_item.acknowledged_by;
    UPDATE shared.deploy_checklist_item
    SET acknowledged_by = NULL, acknowledged_at = NULL, note = p_note
    WHERE item_key = p_item_key
    RETURNING * INTO v_item;
    IF v_before IS NOT NULL THEN
        INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
        VALUES ('checklist', p_item_key, v_actor,
                jsonb_build_object('acknowledged_by', v_before), 'null', p_note);
    END IF;
    RETURN v_item;
END
$$;


--
-- Name: FUNCTION withdraw_checklist_acknowledgement(p_item_key text, p_actor text, p_note text); Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON FUNCTION shared.withdraw_checklist_acknowledgement(p_item_key text, p_actor text, p_note text) IS 'Withdraw a checklist acknowledgement (audited); flags already on stay on.';


--
-- Name: _jsonb_fill(jsonb); Type: AGGREGATE; Schema: shared; Owner: -
--

CREATE AGGREGATE shared._jsonb_fill(jsonb) (
    SFUNC = shared._jsonb_fill_step,
    STYPE = jsonb,
    INITCOND = '{}'
);


--
-- Name: schema_migrations; Type: TABLE; Schema: gdp_migrations; Owner: -
--

CREATE TABLE gdp_migrations.schema_migrations (
    version character varying NOT NULL
);


--
-- Name: a_meta_capi; Type: TABLE; Schema: pgmq; Owner: -
--

CREATE TABLE pgmq.a_meta_capi (
    msg_id bigint NOT NULL,
    read_ct integer DEFAULT 0 NOT NULL,
    enqueued_at timestamp with time zone DEFAULT now() NOT NULL,
    last_read_at timestamp with time zone,
    archived_at timestamp with time zone DEFAULT now() NOT NULL,
    vt timestamp with time zone NOT NULL,
    message jsonb,
    headers jsonb
);


--
-- Name: a_meta_leads; Type: TABLE; Schema: pgmq; Owner: -
--

CREATE TABLE pgmq.a_meta_leads (
    msg_id bigint NOT NULL,
    read_ct integer DEFAULT 0 NOT NULL,
    enqueued_at timestamp with time zone DEFAULT now() NOT NULL,
    last_read_at timestamp with time zone,
    archived_at timestamp with time zone DEFAULT now() NOT NULL,
    vt timestamp with time zone NOT NULL,
    message jsonb,
    headers jsonb
);


--
-- Name: a_segment_changes; Type: TABLE; Schema: pgmq; Owner: -
--

CREATE TABLE pgmq.a_segment_changes (
    msg_id bigint NOT NULL,
    read_ct integer DEFAULT 0 NOT NULL,
    enqueued_at timestamp with time zone DEFAULT now() NOT NULL,
    last_read_at timestamp with time zone,
    archived_at timestamp with time zone DEFAULT now() NOT NULL,
    vt timestamp with time zone NOT NULL,
    message jsonb,
    headers jsonb
);


--
-- Name: meta; Type: TABLE; Schema: pgmq; Owner: -
--

CREATE TABLE pgmq.meta (
    queue_name character varying NOT NULL,
    is_partitioned boolean NOT NULL,
    is_unlogged boolean NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: notify_insert_throttle; Type: TABLE; Schema: pgmq; Owner: -
--

CREATE UNLOGGED TABLE pgmq.notify_insert_throttle (
    queue_name character varying NOT NULL,
    throttle_interval_ms integer DEFAULT 0 NOT NULL,
    last_notified_at timestamp with time zone DEFAULT to_timestamp((0)::double precision) NOT NULL
);


--
-- Name: q_meta_capi; Type: TABLE; Schema: pgmq; Owner: -
--

CREATE TABLE pgmq.q_meta_capi (
    msg_id bigint NOT NULL,
    read_ct integer DEFAULT 0 NOT NULL,
    enqueued_at timestamp with time zone DEFAULT now() NOT NULL,
    last_read_at timestamp with time zone,
    vt timestamp with time zone NOT NULL,
    message jsonb,
    headers jsonb
);


--
-- Name: q_meta_capi_msg_id_seq; Type: SEQUENCE; Schema: pgmq; Owner: -
--

ALTER TABLE pgmq.q_meta_capi ALTER COLUMN msg_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME pgmq.q_meta_capi_msg_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: q_meta_leads; Type: TABLE; Schema: pgmq; Owner: -
--

CREATE TABLE pgmq.q_meta_leads (
    msg_id bigint NOT NULL,
    read_ct integer DEFAULT 0 NOT NULL,
    enqueued_at timestamp with time zone DEFAULT now() NOT NULL,
    last_read_at timestamp with time zone,
    vt timestamp with time zone NOT NULL,
    message jsonb,
    headers jsonb
);


--
-- Name: q_meta_leads_msg_id_seq; Type: SEQUENCE; Schema: pgmq; Owner: -
--

ALTER TABLE pgmq.q_meta_leads ALTER COLUMN msg_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME pgmq.q_meta_leads_msg_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: q_segment_changes; Type: TABLE; Schema: pgmq; Owner: -
--

CREATE TABLE pgmq.q_segment_changes (
    msg_id bigint NOT NULL,
    read_ct integer DEFAULT 0 NOT NULL,
    enqueued_at timestamp with time zone DEFAULT now() NOT NULL,
    last_read_at timestamp with time zone,
    vt timestamp with time zone NOT NULL,
    message jsonb,
    headers jsonb
);


--
-- Name: q_segment_changes_msg_id_seq; Type: SEQUENCE; Schema: pgmq; Owner: -
--

ALTER TABLE pgmq.q_segment_changes ALTER COLUMN msg_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME pgmq.q_segment_changes_msg_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: topic_bindings; Type: TABLE; Schema: pgmq; Owner: -
--

CREATE TABLE pgmq.topic_bindings (
    pattern text NOT NULL,
    queue_name text NOT NULL,
    bound_at timestamp with time zone DEFAULT now() NOT NULL,
    compiled_regex text GENERATED ALWAYS AS ((('^'::text || replace(replace(regexp_replace(pattern, '([.+?{}()|\[\]\\^$])'::text, '\\\1'::text, 'g'::text), '*'::text, '[^.]+'::text), '#'::text, '.*'::text)) || '$'::text)) STORED
);


--
-- Name: person_feature; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.person_feature (
    person_id uuid NOT NULL,
    products text[] DEFAULT '{}'::text[] NOT NULL,
    first_seen_at timestamp with time zone,
    last_seen_at timestamp with time zone,
    last_activity_at timestamp with time zone,
    events bigint DEFAULT 0 NOT NULL,
    activated_at timestamp with time zone,
    first_paid_at timestamp with time zone,
    last_paid_at timestamp with time zone,
    paid boolean DEFAULT false NOT NULL,
    plan text,
    mrr numeric(14,2),
    churned_at timestamp with time zone,
    pricing_views_7d integer DEFAULT 0 NOT NULL,
    pricing_views_30d integer DEFAULT 0 NOT NULL,
    usage_7d integer DEFAULT 0 NOT NULL,
    usage_30d integer DEFAULT 0 NOT NULL,
    lifecycle_stage shared.lifecycle_stage DEFAULT 'lead'::shared.lifecycle_stage NOT NULL,
    computed_at timestamp with time zone DEFAULT now() NOT NULL,
    next_change_at timestamp with time zone,
    last_cancel_at timestamp with time zone DEFAULT '-infinity'::timestamp with time zone
);


--
-- Name: TABLE person_feature; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.person_feature IS 'Features per person across products, as of the last segment evaluation (computed_at).';


--
-- Name: COLUMN person_feature.last_cancel_at; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON COLUMN shared.person_feature.last_cancel_at IS 'The last cancellation (a payment after it makes the person paid again); -infinity: not known yet (computed before the column existed), until the person''s next evaluation.';


--
-- Name: activated_not_paid_day3; Type: VIEW; Schema: segments; Owner: -
--

CREATE VIEW segments.activated_not_paid_day3 AS
 SELECT f.person_id
   FROM shared.person_feature f
  WHERE ((f.activated_at IS NOT NULL) AND (NOT f.paid) AND (f.first_seen_at <= (now() - '3 days'::interval)));


--
-- Name: all_customers; Type: VIEW; Schema: segments; Owner: -
--

CREATE VIEW segments.all_customers AS
 SELECT f.person_id
   FROM shared.person_feature f
  WHERE (f.paid OR (f.lifecycle_stage = 'customer'::shared.lifecycle_stage));


--
-- Name: all_leads; Type: VIEW; Schema: segments; Owner: -
--

CREATE VIEW segments.all_leads AS
 SELECT f.person_id
   FROM shared.person_feature f;


--
-- Name: churned_30d; Type: VIEW; Schema: segments; Owner: -
--

CREATE VIEW segments.churned_30d AS
 SELECT f.person_id
   FROM shared.person_feature f
  WHERE (f.churned_at > (now() - '30 days'::interval));


--
-- Name: high_intent_pricing_2plus; Type: VIEW; Schema: segments; Owner: -
--

CREATE VIEW segments.high_intent_pricing_2plus AS
 SELECT f.person_id
   FROM shared.person_feature f
  WHERE ((f.pricing_views_7d >= 2) AND (NOT f.paid));


--
-- Name: paid_high_usage_7d; Type: VIEW; Schema: segments; Owner: -
--

CREATE VIEW segments.paid_high_usage_7d AS
 SELECT f.person_id
   FROM shared.person_feature f
  WHERE (f.paid AND (f.usage_7d >= 10));


--
-- Name: audience_ack; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.audience_ack (
    segment_id text NOT NULL,
    person_id uuid NOT NULL,
    row_cells text[] NOT NULL,
    person_updated_at timestamp with time zone NOT NULL,
    via text NOT NULL,
    run_id bigint,
    acknowledged_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT audience_ack_cells CHECK ((cardinality(row_cells) = 13)),
    CONSTRAINT audience_ack_via CHECK ((via = ANY (ARRAY['users'::text, 'replace'::text])))
);


--
-- Name: TABLE audience_ack; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.audience_ack IS 'What Meta acknowledged per person and audience: the exact hashed row sent (hashes only).';


--
-- Name: person; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.person (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    phone text,
    first_name text,
    last_name text,
    city text,
    state text,
    zip text,
    country text,
    date_of_birth date,
    gender text,
    utm_source text,
    utm_medium text,
    utm_campaign text,
    utm_content text,
    utm_term text,
    meta_fbp text,
    meta_fbc text,
    meta_lead_form_id text,
    source_product text,
    lifecycle_stage shared.lifecycle_stage DEFAULT 'lead'::shared.lifecycle_stage NOT NULL,
    consent_status shared.consent_status DEFAULT 'unknown'::shared.consent_status NOT NULL,
    consent_changed_at timestamp with time zone,
    properties jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT person_country_alpha2 CHECK ((country ~ '^[A-Z]{2}$'::text)),
    CONSTRAINT person_email_normalized CHECK (((email = lower(btrim(email))) AND (email ~ '^[^@\s]+@[^@\s]+\.[^@\s.]+$'::text))),
    CONSTRAINT person_gender_code CHECK ((gender = ANY (ARRAY['f'::text, 'm'::text]))),
    CONSTRAINT person_phone_e164 CHECK ((phone ~ '^\+[1-9][0-9]{6,14}$'::text)),
    CONSTRAINT person_properties_object CHECK ((jsonb_typeof(properties) = 'object'::text))
);


--
-- Name: TABLE person; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.person IS 'One row per human across all products; the only table that holds raw PII.';


--
-- Name: segment_member; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.segment_member (
    segment_id text NOT NULL,
    person_id uuid NOT NULL,
    joined_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE segment_member; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.segment_member IS 'Current members of each segment; written by shared.evaluate_segments only.';


--
-- Name: _audience_withdrawn_ack; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared._audience_withdrawn_ack WITH (security_invoker='true') AS
 SELECT k.segment_id,
    k.person_id,
    k.row_cells,
    k.person_updated_at
   FROM ((shared.person w
     JOIN shared.audience_ack k ON ((k.person_id = w.id)))
     JOIN shared.segment_member m ON (((m.segment_id = k.segment_id) AND (m.person_id = w.id))))
  WHERE (w.consent_status = 'withdrawn'::shared.consent_status);


--
-- Name: person_activity_recent; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.person_activity_recent (
    person_id uuid NOT NULL,
    product_id text NOT NULL,
    day date NOT NULL,
    first_at timestamp with time zone NOT NULL,
    last_at timestamp with time zone NOT NULL,
    events integer NOT NULL,
    usage integer NOT NULL,
    pricing_views integer NOT NULL,
    first_activation_at timestamp with time zone,
    payments integer NOT NULL,
    last_payment_at timestamp with time zone,
    plan text,
    mrr numeric(14,2),
    last_cancel_at timestamp with time zone,
    event_counts jsonb NOT NULL,
    first_payment_at timestamp with time zone,
    last_usage_at timestamp with time zone
);


--
-- Name: TABLE person_activity_recent; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.person_activity_recent IS 'Per person, product and UTC day: what evaluations folded in since the day''s rows were last settled into shared.person_activity_settled. Read shared.person_activity_daily.';


--
-- Name: _person_activity_row; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared._person_activity_row WITH (security_invoker='true') AS
 SELECT s.person_id,
    s.product_id,
    s.day,
    s.first_at,
    s.last_at,
    s.events,
    s.usage,
    s.pricing_views,
    s.first_activation_at,
    s.payments,
    s.last_payment_at,
    s.plan,
    s.mrr,
    s.last_cancel_at,
    s.event_counts,
    shared._day_first_payment_at(s.first_payment_at, s.last_payment_at) AS first_payment_at,
    shared._day_last_usage_at(s.last_usage_at, s.usage, s.last_at) AS last_usage_at
   FROM shared.person_activity_settled s
UNION ALL
 SELECT r.person_id,
    r.product_id,
    r.day,
    r.first_at,
    r.last_at,
    r.events,
    r.usage,
    r.pricing_views,
    r.first_activation_at,
    r.payments,
    r.last_payment_at,
    r.plan,
    r.mrr,
    r.last_cancel_at,
    r.event_counts,
    r.first_payment_at,
    r.last_usage_at
   FROM shared.person_activity_recent r;


--
-- Name: conversion_rule; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.conversion_rule (
    rule_id bigint NOT NULL,
    product_id text,
    event_name text NOT NULL,
    meta_event_name text NOT NULL,
    value_property text,
    currency_property text DEFAULT 'currency'::text NOT NULL,
    default_currency text,
    first_time_per_person boolean DEFAULT false NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    description text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT conversion_rule_currency_iso CHECK ((default_currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT conversion_rule_meta_event_name_format CHECK ((meta_event_name ~ '^[A-Za-z][A-Za-z0-9_]{0,49}$'::text))
);


--
-- Name: product; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.product (
    product_id text NOT NULL,
    display_name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT product_id_format CHECK ((product_id ~ '^[a-z][a-z0-9_]{1,39}$'::text))
);


--
-- Name: TABLE product; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.product IS 'Every product that writes people and events (the PRD''s list).';


--
-- Name: applicable_conversion_rule; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.applicable_conversion_rule AS
 SELECT DISTINCT ON (p.product_id, r.event_name) p.product_id,
    r.event_name,
    r.rule_id,
    r.product_id AS rule_product_id,
    r.meta_event_name,
    r.value_property,
    r.currency_property,
    r.default_currency,
    r.first_time_per_person
   FROM (shared.product p
     JOIN shared.conversion_rule r ON ((r.enabled AND ((r.product_id = p.product_id) OR (r.product_id IS NULL)))))
  ORDER BY p.product_id, r.event_name, r.product_id;


--
-- Name: VIEW applicable_conversion_rule; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.applicable_conversion_rule IS 'The conversion rule that applies to each product''s event name: the enabled rule, the product''s own before the any-product one.';


--
-- Name: attribution_events; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.attribution_events (
    id bigint NOT NULL,
    event_ref bigint,
    product_id text NOT NULL,
    event_id text NOT NULL,
    meta_event_name text NOT NULL,
    person_id uuid,
    pixel_id text,
    status text NOT NULL,
    attempt integer DEFAULT 1 NOT NULL,
    batch_size integer,
    match_keys text[] DEFAULT '{}'::text[] NOT NULL,
    events_received integer,
    test_event_code text,
    meta_fbtrace_id text,
    error_code integer,
    error_subcode integer,
    error_message text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT attribution_events_status_known CHECK ((status = ANY (ARRAY['queued'::text, 'sent'::text, 'retrying'::text, 'rejected'::text, 'expired'::text, 'blocked_consent'::text, 'held_auth'::text, 'dead_lettered'::text, 'replayed'::text])))
);


--
-- Name: attribution_events_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.attribution_events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.attribution_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: audience_erased; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.audience_erased (
    segment_id text NOT NULL,
    person_id uuid NOT NULL,
    erased_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE audience_erased; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.audience_erased IS 'Acknowledged people erased since: the next run removes them from the audience (ids only).';


--
-- Name: audience_removal_allowance; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.audience_removal_allowance (
    id bigint NOT NULL,
    segment_id text NOT NULL,
    max_removals integer NOT NULL,
    acknowledged_by text NOT NULL,
    reason text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    used_by_run bigint,
    CONSTRAINT audience_removal_allowance_by CHECK (((length(acknowledged_by) >= 1) AND (length(acknowledged_by) <= 200))),
    CONSTRAINT audience_removal_allowance_max CHECK ((max_removals > 0))
);


--
-- Name: TABLE audience_removal_allowance; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.audience_removal_allowance IS 'An admin''s acknowledgement that the next run of a segment may remove up to max_removals.';


--
-- Name: audience_removal_allowance_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.audience_removal_allowance ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.audience_removal_allowance_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: audience_replace_row; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.audience_replace_row (
    segment_id text NOT NULL,
    person_id uuid NOT NULL,
    row_cells text[] NOT NULL,
    person_updated_at timestamp with time zone NOT NULL,
    run_id bigint NOT NULL,
    CONSTRAINT audience_replace_row_cells CHECK ((cardinality(row_cells) = 13))
);


--
-- Name: TABLE audience_replace_row; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.audience_replace_row IS 'Rows sent in the usersreplace session in flight; they become audience_ack when it completes.';


--
-- Name: meta_audience; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.meta_audience (
    segment_id text NOT NULL,
    audience_id text,
    audience_name text NOT NULL,
    create_marker text DEFAULT ('gdp:'::text || (gen_random_uuid())::text) NOT NULL,
    min_size_first_upload integer DEFAULT 100 NOT NULL,
    max_removed_share numeric(4,3) DEFAULT 0.200 NOT NULL,
    first_upload_at timestamp with time zone,
    drift_detected_at timestamp with time zone,
    drift_note text,
    approximate_lower bigint,
    approximate_upper bigint,
    counted_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    full_checked_at timestamp with time zone,
    acknowledged bigint DEFAULT 0 NOT NULL,
    CONSTRAINT meta_audience_acknowledged CHECK ((acknowledged >= 0)),
    CONSTRAINT meta_audience_id_format CHECK ((audience_id ~ '^[0-9]{1,30}$'::text)),
    CONSTRAINT meta_audience_max_removed_share CHECK (((max_removed_share >= (0)::numeric) AND (max_removed_share <= (1)::numeric))),
    CONSTRAINT meta_audience_min_size CHECK (((min_size_first_upload >= 0) AND (min_size_first_upload <= 100000000))),
    CONSTRAINT meta_audience_name_length CHECK (((length(audience_name) >= 1) AND (length(audience_name) <= 200))),
    CONSTRAINT meta_audience_segment_id_format CHECK ((segment_id ~ '^[a-z][a-z0-9_]{1,62}$'::text))
);


--
-- Name: TABLE meta_audience; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.meta_audience IS 'The Meta Custom Audience of each mapped segment, with its guards.';


--
-- Name: audience_status; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.audience_status AS
 SELECT a.segment_id,
    a.audience_name,
    a.audience_id,
    shared._audience_member_count(a.segment_id) AS members,
    a.acknowledged,
    a.approximate_lower,
    a.approximate_upper,
    a.drift_detected_at,
    a.first_upload_at,
    last.status AS last_status,
    last.finished_at AS last_finished_at,
    ok.finished_at AS last_succeeded_at,
    (EXTRACT(epoch FROM (now() - ok.finished_at)))::double precision AS lag_seconds,
    ( SELECT count(*) AS count
           FROM shared.audience_sync_run r
          WHERE ((r.segment_id = a.segment_id) AND (r.status = ANY (ARRAY['failed'::text, 'interrupted'::text])) AND (r.started_at > (now() - '24:00:00'::interval)))) AS failures_24h
   FROM ((shared.meta_audience a
     LEFT JOIN LATERAL ( SELECT r.status,
            r.finished_at
           FROM shared.audience_sync_run r
          WHERE (r.segment_id = a.segment_id)
          ORDER BY r.id DESC
         LIMIT 1) last ON (true))
     LEFT JOIN LATERAL ( SELECT r.finished_at
           FROM shared.audience_sync_run r
          WHERE ((r.segment_id = a.segment_id) AND (r.status = 'succeeded'::text))
          ORDER BY r.id DESC
         LIMIT 1) ok ON (true));


--
-- Name: VIEW audience_status; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.audience_status IS 'Per mapped segment: members, acknowledged rows, Meta''s approximate size, last run, lag since the last success and failures in 24 hours.';


--
-- Name: audience_sync_run_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.audience_sync_run ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.audience_sync_run_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: campaign_project; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.campaign_project (
    campaign_id text NOT NULL,
    campaign_name text,
    project_id text,
    assigned_by text DEFAULT 'naming_convention'::text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT campaign_project_campaign_id_format CHECK ((campaign_id ~ '^[0-9]{1,30}$'::text))
);


--
-- Name: TABLE campaign_project; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.campaign_project IS 'Which project (product) each Meta campaign advertises; set by naming convention, editable.';


--
-- Name: capi_dead_letter; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.capi_dead_letter (
    id bigint NOT NULL,
    event_ref bigint NOT NULL,
    product_id text NOT NULL,
    event_id text NOT NULL,
    meta_event_name text NOT NULL,
    pixel_id text,
    reason text NOT NULL,
    error_code integer,
    error_subcode integer,
    error_message text,
    attempts integer DEFAULT 1 NOT NULL,
    dead_lettered_at timestamp with time zone DEFAULT now() NOT NULL,
    replayed_at timestamp with time zone,
    replayed_by text,
    CONSTRAINT capi_dead_letter_reason_known CHECK ((reason = ANY (ARRAY['expired'::text, 'rejected'::text, 'invalid'::text, 'no_pixel'::text])))
);


--
-- Name: capi_dead_letter_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.capi_dead_letter ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.capi_dead_letter_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: capi_health; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.capi_health AS
 SELECT ( SELECT count(*) AS count
           FROM shared.attribution_events a
          WHERE ((a.status = 'sent'::text) AND (a.created_at > (now() - '24:00:00'::interval)))) AS delivered_24h,
    ( SELECT count(*) AS count
           FROM shared.attribution_events a
          WHERE (a.status = 'sent'::text)) AS delivered_total,
    ( SELECT count(*) AS count
           FROM shared.capi_dead_letter d
          WHERE ((d.replayed_at IS NULL) AND (d.dead_lettered_at > (now() - '24:00:00'::interval)))) AS dead_lettered_24h,
    ( SELECT COALESCE(jsonb_object_agg(r.reason, r.n), '{}'::jsonb) AS "coalesce"
           FROM ( SELECT d.reason,
                    count(*) AS n
                   FROM shared.capi_dead_letter d
                  WHERE (d.replayed_at IS NULL)
                  GROUP BY d.reason) r) AS dead_lettered_by_reason,
    ( SELECT count(*) AS count
           FROM shared.capi_pixel_state s
          WHERE (s.breaker = 'open'::text)) AS open_breakers,
    ( SELECT COALESCE(jsonb_agg(jsonb_build_object('pixel_id', s.pixel_id, 'breaker', s.breaker, 'opened_at', s.opened_at, 'last_error_code', s.last_error_code) ORDER BY s.pixel_id), '[]'::jsonb) AS "coalesce"
           FROM shared.capi_pixel_state s) AS breakers,
    ( SELECT count(*) AS count
           FROM pgmq.q_meta_capi) AS queued,
    ( SELECT count(*) AS count
           FROM pgmq.q_meta_leads) AS leads_queued;


--
-- Name: VIEW capi_health; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.capi_health IS 'Conversions API health: delivered, dead-lettered by reason, circuit breakers, queue lengths.';


--
-- Name: consent_log; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.consent_log (
    id bigint NOT NULL,
    person_id uuid NOT NULL,
    status shared.consent_status NOT NULL,
    source text NOT NULL,
    changed_at timestamp with time zone NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: consent_log_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.consent_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.consent_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: conversion_family; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.conversion_family (
    family text NOT NULL,
    meta_event_name text NOT NULL,
    counts_value boolean DEFAULT false NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    CONSTRAINT conversion_family_format CHECK ((family ~ '^[a-z][a-z0-9_]{1,39}$'::text))
);


--
-- Name: conversion_rule_rule_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.conversion_rule ALTER COLUMN rule_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.conversion_rule_rule_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: erasure; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.erasure (
    id bigint NOT NULL,
    person_id uuid NOT NULL,
    email_sha256 text NOT NULL,
    phone_sha256 text,
    requested_by text NOT NULL,
    reason text,
    erased_at timestamp with time zone DEFAULT now() NOT NULL,
    audiences_cleared_at timestamp with time zone,
    CONSTRAINT erasure_email_sha256_hex CHECK ((email_sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT erasure_phone_sha256_hex CHECK ((phone_sha256 ~ '^[0-9a-f]{64}$'::text))
);


--
-- Name: erasure_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.erasure ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.erasure_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: event; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.event (
    id bigint NOT NULL,
    product_id text NOT NULL,
    event_id text NOT NULL,
    event_name text NOT NULL,
    person_id uuid,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    source text DEFAULT 'server'::text NOT NULL,
    properties jsonb DEFAULT '{}'::jsonb NOT NULL,
    action_source text,
    event_source_url text,
    client_ip_address inet,
    client_user_agent text,
    fbp text,
    fbc text,
    meta_event_name text,
    meta_user_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT event_action_source_known CHECK ((action_source = ANY (ARRAY['email'::text, 'website'::text, 'app'::text, 'phone_call'::text, 'chat'::text, 'physical_store'::text, 'system_generated'::text, 'business_messaging'::text, 'other'::text]))),
    CONSTRAINT event_event_id_length CHECK (((length(event_id) >= 1) AND (length(event_id) <= 200))),
    CONSTRAINT event_event_name_length CHECK (((length(event_name) >= 1) AND (length(event_name) <= 100))),
    CONSTRAINT event_meta_event_name_format CHECK ((meta_event_name ~ '^[A-Za-z][A-Za-z0-9_]{0,49}$'::text)),
    CONSTRAINT event_meta_user_data_object CHECK ((jsonb_typeof(meta_user_data) = 'object'::text)),
    CONSTRAINT event_properties_object CHECK ((jsonb_typeof(properties) = 'object'::text)),
    CONSTRAINT event_source_known CHECK ((source = ANY (ARRAY['server'::text, 'client'::text, 'relay'::text, 'sql'::text, 'lead_form'::text, 'import'::text, 'segment_engine'::text])))
);


--
-- Name: event_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.event ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.event_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: feature_event_kind; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.feature_event_kind (
    id bigint NOT NULL,
    product_id text,
    event_name text NOT NULL,
    kind text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT feature_event_kind_event_name_length CHECK (((length(event_name) >= 1) AND (length(event_name) <= 100))),
    CONSTRAINT feature_event_kind_kind_known CHECK ((kind = ANY (ARRAY['activation'::text, 'payment'::text, 'cancel'::text, 'pricing_view'::text, 'page_view'::text])))
);


--
-- Name: TABLE feature_event_kind; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.feature_event_kind IS 'What a product event means for person features: activation, payment, cancel, pricing_view or page_view (page views are not usage); other events count as usage.';


--
-- Name: feature_event_kind_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.feature_event_kind ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.feature_event_kind_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: feature_flag_checklist; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.feature_flag_checklist (
    flag_key text NOT NULL,
    item_key text NOT NULL
);


--
-- Name: feature_flag_prerequisite; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.feature_flag_prerequisite (
    flag_key text NOT NULL,
    requires_flag_key text NOT NULL,
    CONSTRAINT feature_flag_prerequisite_not_self CHECK ((flag_key <> requires_flag_key))
);


--
-- Name: feature_trigger_fired; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.feature_trigger_fired (
    rule_id bigint NOT NULL,
    person_id uuid NOT NULL,
    event_ref bigint NOT NULL,
    fired_at timestamp with time zone DEFAULT now() NOT NULL,
    sent boolean DEFAULT true NOT NULL
);


--
-- Name: TABLE feature_trigger_fired; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.feature_trigger_fired IS 'First-time conversion rules (e.g. first feature used) that fired, once per person.';


--
-- Name: COLUMN feature_trigger_fired.sent; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON COLUMN shared.feature_trigger_fired.sent IS 'false: the person had such an event before the ledger knew them; nothing was sent.';


--
-- Name: gate_audit; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.gate_audit (
    id bigint NOT NULL,
    subject_kind text NOT NULL,
    subject_key text NOT NULL,
    scope text DEFAULT 'global'::text NOT NULL,
    actor text NOT NULL,
    changed_at timestamp with time zone DEFAULT now() NOT NULL,
    from_value jsonb,
    to_value jsonb,
    note text,
    CONSTRAINT gate_audit_subject_kind_known CHECK ((subject_kind = ANY (ARRAY['flag'::text, 'checklist'::text, 'setting'::text, 'service_key'::text, 'product_credential'::text])))
);


--
-- Name: gate_audit_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.gate_audit ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.gate_audit_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: gate_state; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.gate_state AS
 SELECT f.flag_key,
    f.gap,
    f.enable_order,
    f.enabled,
    f.changed_at,
    f.changed_by,
    f.description
   FROM shared.feature_flag f;


--
-- Name: VIEW gate_state; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.gate_state IS 'The deployment gate: every flag, its gap, order and state.';


--
-- Name: gdp_conversions_daily; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.gdp_conversions_daily AS
 SELECT a.date,
    a.project,
    count(*) AS conversions,
    (COALESCE(sum(v.value) FILTER (WHERE f.counts_value), (0)::numeric))::numeric(14,2) AS conversion_value
   FROM ((((( SELECT ((x.created_at AT TIME ZONE 'UTC'::text))::date AS date,
            x.product_id AS project,
            x.event_ref,
            min(x.meta_event_name) AS meta_event_name
           FROM shared.attribution_events x
          WHERE ((x.status = 'sent'::text) AND (x.event_ref IS NOT NULL))
          GROUP BY (((x.created_at AT TIME ZONE 'UTC'::text))::date), x.product_id, x.event_ref) a
     JOIN shared.conversion_family f ON (((f.meta_event_name = a.meta_event_name) AND f.enabled)))
     JOIN shared.event e ON ((e.id = a.event_ref)))
     LEFT JOIN shared.applicable_conversion_rule r ON (((r.product_id = e.product_id) AND (r.event_name = e.event_name))))
     LEFT JOIN LATERAL ( SELECT
                CASE
                    WHEN (raw.val ~ '^-?[0-9]+(\.[0-9]+)?$'::text) THEN (raw.val)::numeric
                    ELSE NULL::numeric
                END AS value
           FROM ( SELECT COALESCE((e.properties ->> r.value_property), (e.properties ->> 'value'::text)) AS val) raw) v ON (true))
  GROUP BY a.date, a.project;


--
-- Name: VIEW gdp_conversions_daily; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.gdp_conversions_daily IS 'Conversions GDP delivered to Meta through the Conversions API, per product and day, with their value (first-party ROAS/CPA).';


--
-- Name: identity_link; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.identity_link (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    person_id uuid NOT NULL,
    provider text NOT NULL,
    external_id text NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT identity_link_external_id_length CHECK (((length(external_id) >= 1) AND (length(external_id) <= 255))),
    CONSTRAINT identity_link_provider_format CHECK ((provider ~ '^[a-z][a-z0-9_]{1,39}$'::text))
);


--
-- Name: performance_daily; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.performance_daily (
    ad_id text NOT NULL,
    date date NOT NULL,
    account_id text NOT NULL,
    campaign_id text NOT NULL,
    campaign_name text,
    adset_id text,
    adset_name text,
    ad_name text,
    currency text,
    spend numeric(14,2) DEFAULT 0 NOT NULL,
    impressions bigint DEFAULT 0 NOT NULL,
    clicks bigint DEFAULT 0 NOT NULL,
    reach bigint,
    actions jsonb DEFAULT '{}'::jsonb NOT NULL,
    action_values jsonb DEFAULT '{}'::jsonb NOT NULL,
    conversions numeric(14,2) DEFAULT 0 NOT NULL,
    conversion_value numeric(14,2) DEFAULT 0 NOT NULL,
    attribution_windows text[] DEFAULT '{}'::text[] NOT NULL,
    first_pulled_at timestamp with time zone DEFAULT now() NOT NULL,
    pulled_at timestamp with time zone DEFAULT now() NOT NULL,
    pull_id bigint,
    restatements integer DEFAULT 0 NOT NULL
);


--
-- Name: TABLE performance_daily; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.performance_daily IS 'Meta Ads Insights per ad per day (the PRD''s table); upserted by (ad, day) on every pull.';


--
-- Name: insights_ad_daily; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.insights_ad_daily AS
 SELECT d.date,
    COALESCE(c.project_id, 'unassigned'::text) AS project,
    d.campaign_id,
    d.campaign_name,
    d.adset_id,
    d.adset_name,
    d.ad_id,
    d.ad_name,
    d.spend,
    d.impressions,
    d.clicks,
    d.reach,
    d.conversions AS meta_conversions,
    d.conversion_value AS meta_conversion_value,
    shared._ratio(d.spend, d.conversions) AS meta_cost_per_conversion,
    shared._ratio(d.conversion_value, d.spend) AS meta_roas,
    d.restatements,
    d.pulled_at
   FROM (shared.performance_daily d
     LEFT JOIN shared.campaign_project c ON ((c.campaign_id = d.campaign_id)));


--
-- Name: VIEW insights_ad_daily; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.insights_ad_daily IS 'Per ad per day with its project: Meta''s spend, conversions, CPA and ROAS, and how often the day was restated.';


--
-- Name: performance_campaign_daily; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.performance_campaign_daily (
    date date NOT NULL,
    campaign_id text NOT NULL,
    spend numeric(14,2) NOT NULL,
    impressions bigint NOT NULL,
    clicks bigint NOT NULL,
    conversions numeric(14,2) NOT NULL,
    conversion_value numeric(14,2) NOT NULL,
    ads integer NOT NULL
);


--
-- Name: TABLE performance_campaign_daily; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.performance_campaign_daily IS 'shared.performance_daily summed per day and campaign, written with it by every pull.';


--
-- Name: insights_project_daily; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.insights_project_daily AS
 SELECT s.date,
    s.project,
    (sum(s.spend))::numeric(14,2) AS spend,
    (sum(s.impressions))::bigint AS impressions,
    (sum(s.clicks))::bigint AS clicks,
    (sum(s.meta_conversions))::numeric(14,2) AS meta_conversions,
    (sum(s.meta_value))::numeric(14,2) AS meta_conversion_value,
    (sum(s.gdp_conversions))::bigint AS gdp_conversions,
    (sum(s.gdp_value))::numeric(14,2) AS gdp_conversion_value
   FROM ( SELECT r.date,
            COALESCE(c.project_id, 'unassigned'::text) AS project,
            r.spend,
            r.impressions,
            r.clicks,
            r.conversions AS meta_conversions,
            r.conversion_value AS meta_value,
            0 AS gdp_conversions,
            0 AS gdp_value
           FROM (shared.performance_campaign_daily r
             LEFT JOIN shared.campaign_project c ON ((c.campaign_id = r.campaign_id)))
        UNION ALL
         SELECT g.date,
            g.project,
            0,
            0,
            0,
            0,
            0,
            g.conversions,
            g.conversion_value
           FROM shared.gdp_conversions_daily g) s
  GROUP BY s.date, s.project;


--
-- Name: VIEW insights_project_daily; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.insights_project_daily IS 'Spend, impressions, clicks and conversions per project per day: Meta''s (Ads Insights) and GDP''s own (delivered through CAPI), side by side.';


--
-- Name: insights_by_project; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.insights_by_project AS
 SELECT d.project,
    (sum(d.spend))::numeric(14,2) AS spend,
    (sum(d.impressions))::bigint AS impressions,
    (sum(d.clicks))::bigint AS clicks,
    (sum(d.meta_conversions))::numeric(14,2) AS meta_conversions,
    (sum(d.meta_conversion_value))::numeric(14,2) AS meta_conversion_value,
    (sum(d.gdp_conversions))::bigint AS gdp_conversions,
    (sum(d.gdp_conversion_value))::numeric(14,2) AS gdp_conversion_value,
    shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS meta_cost_per_conversion,
    shared._ratio(sum(d.spend), sum(d.gdp_conversions)) AS gdp_cost_per_conversion,
    shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS meta_roas,
    shared._ratio(sum(d.gdp_conversion_value), sum(d.spend)) AS gdp_roas
   FROM shared.insights_project_daily d
  WHERE ((d.date >= (((now() AT TIME ZONE 'UTC'::text))::date - 29)) AND (d.date <= ((now() AT TIME ZONE 'UTC'::text))::date))
  GROUP BY d.project;


--
-- Name: VIEW insights_by_project; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.insights_by_project IS 'Per project over the last 30 days: spend, clicks, conversions, CPA and ROAS, Meta''s and GDP''s side by side.';


--
-- Name: insights_conversion_action; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.insights_conversion_action (
    family text NOT NULL,
    action_type text NOT NULL,
    rank smallint NOT NULL,
    CONSTRAINT insights_conversion_action_type_length CHECK (((length(action_type) >= 1) AND (length(action_type) <= 100)))
);


--
-- Name: insights_daily; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.insights_daily AS
 SELECT d.date,
    (sum(d.spend))::numeric(14,2) AS spend,
    (sum(d.impressions))::bigint AS impressions,
    (sum(d.clicks))::bigint AS clicks,
    (sum(d.meta_conversions))::numeric(14,2) AS meta_conversions,
    (sum(d.meta_conversion_value))::numeric(14,2) AS meta_conversion_value,
    (sum(d.gdp_conversions))::bigint AS gdp_conversions,
    (sum(d.gdp_conversion_value))::numeric(14,2) AS gdp_conversion_value,
    shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS meta_cost_per_conversion,
    shared._ratio(sum(d.spend), sum(d.gdp_conversions)) AS gdp_cost_per_conversion,
    shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS meta_roas,
    shared._ratio(sum(d.gdp_conversion_value), sum(d.spend)) AS gdp_roas
   FROM shared.insights_project_daily d
  GROUP BY d.date;


--
-- Name: VIEW insights_daily; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.insights_daily IS 'All projects per day, with CPA and ROAS from Meta''s action values and from GDP''s delivered conversions.';


--
-- Name: insights_pull_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.insights_pull ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.insights_pull_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: insights_pulls; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.insights_pulls AS
 SELECT p.id,
    p.account_id,
    p.date_from,
    p.date_to,
    p.mode,
    p.status,
    p.started_at,
    p.finished_at,
    p.rows_written,
    p.rows_restated,
    p.requests,
    p.retries,
    p.report_runs,
    p.splits,
    p.throttle_wait_ms,
    p.max_usage_pct,
    ((EXTRACT(epoch FROM (p.finished_at - p.started_at)) * (1000)::numeric))::bigint AS duration_ms,
    p.error_code,
    p.error_subcode,
    p.error_message
   FROM shared.insights_pull p;


--
-- Name: VIEW insights_pulls; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.insights_pulls IS 'Every insights pull with its range, rows, requests, retries and duration: how fresh the numbers are.';


--
-- Name: insights_summary; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.insights_summary AS
 SELECT (sum(b.spend))::numeric(14,2) AS spend,
    (sum(b.impressions))::bigint AS impressions,
    (sum(b.clicks))::bigint AS clicks,
    shared._ratio(((100)::numeric * sum(b.clicks)), sum(b.impressions)) AS ctr,
    shared._ratio(sum(b.spend), sum(b.clicks)) AS cpc,
    (sum(b.meta_conversions))::numeric(14,2) AS meta_conversions,
    (sum(b.gdp_conversions))::bigint AS gdp_conversions,
    shared._ratio(sum(b.spend), sum(b.meta_conversions)) AS meta_cost_per_conversion,
    shared._ratio(sum(b.spend), sum(b.gdp_conversions)) AS gdp_cost_per_conversion,
    shared._ratio(sum(b.meta_conversion_value), sum(b.spend)) AS meta_roas,
    shared._ratio(sum(b.gdp_conversion_value), sum(b.spend)) AS gdp_roas
   FROM shared.insights_by_project b;


--
-- Name: VIEW insights_summary; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.insights_summary IS 'All projects over the last 30 days: spend, CTR, CPC, conversions, CPA and ROAS (Meta''s and GDP''s).';


--
-- Name: lead_field_map; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.lead_field_map (
    form_id text DEFAULT '*'::text NOT NULL,
    meta_field text NOT NULL,
    person_field text NOT NULL,
    CONSTRAINT lead_field_map_form_id_format CHECK ((form_id ~ '^(\*|[0-9]{1,30})$'::text)),
    CONSTRAINT lead_field_map_meta_field_length CHECK (((length(meta_field) >= 1) AND (length(meta_field) <= 200))),
    CONSTRAINT lead_field_map_person_field_known CHECK ((person_field = ANY (ARRAY['email'::text, 'phone'::text, 'first_name'::text, 'last_name'::text, 'full_name'::text, 'city'::text, 'state'::text, 'zip'::text, 'country'::text, 'date_of_birth'::text, 'gender'::text, 'ignore'::text])))
);


--
-- Name: lead_submissions; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.lead_submissions AS
 SELECT l.leadgen_id,
    l.form_id,
    l.page_id,
    l.ad_id,
    l.adset_id,
    l.campaign_id,
    c.campaign_name,
    COALESCE(l.project_id, c.project_id) AS project,
    l.is_organic,
    l.created_time,
    l.received_at,
    l.deliveries,
    l.status,
    l.attempts,
    l.synced_at,
    l.person_id,
    (p.lifecycle_stage)::text AS lifecycle_stage,
    l.error_code,
    l.error_message
   FROM ((shared.meta_lead l
     LEFT JOIN shared.campaign_project c ON ((c.campaign_id = l.campaign_id)))
     LEFT JOIN shared.person p ON ((p.id = l.person_id)));


--
-- Name: VIEW lead_submissions; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.lead_submissions IS 'Every Lead Ads submission with its form, ad, campaign, project, sync status and the person''s lifecycle stage (no answers, no PII).';


--
-- Name: lead_forms; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.lead_forms AS
 SELECT s.form_id,
    count(*) AS leads,
    count(*) FILTER (WHERE (s.status = 'synced'::text)) AS synced,
    count(*) FILTER (WHERE (s.status = 'failed'::text)) AS failed,
    count(*) FILTER (WHERE (s.status = 'received'::text)) AS pending,
    count(*) FILTER (WHERE (s.lifecycle_stage = ANY (ARRAY['activated'::text, 'customer'::text]))) AS activated,
    count(*) FILTER (WHERE (s.lifecycle_stage = 'customer'::text)) AS customers,
    array_agg(DISTINCT s.project) FILTER (WHERE (s.project IS NOT NULL)) AS projects,
    min(s.created_time) AS first_lead_at,
    max(s.created_time) AS last_lead_at
   FROM shared.lead_submissions s
  GROUP BY s.form_id;


--
-- Name: VIEW lead_forms; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.lead_forms IS 'Per lead form: leads, synced, failed, pending, how many became activated or customers, projects.';


--
-- Name: lead_funnel; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.lead_funnel AS
 SELECT COALESCE(s.project, 'unassigned'::text) AS project,
    count(*) AS leads,
    count(*) FILTER (WHERE (s.status = 'synced'::text)) AS synced,
    count(*) FILTER (WHERE (s.lifecycle_stage = ANY (ARRAY['activated'::text, 'customer'::text, 'churned'::text]))) AS activated,
    count(*) FILTER (WHERE (s.lifecycle_stage = 'customer'::text)) AS customers
   FROM shared.lead_submissions s
  GROUP BY COALESCE(s.project, 'unassigned'::text);


--
-- Name: VIEW lead_funnel; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.lead_funnel IS 'Lead Ads leads per project and how many were activated or became customers.';


--
-- Name: metric_ad_click_source; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.metric_ad_click_source AS
 SELECT count(*) AS conversions,
    count(*) FILTER (WHERE c.from_ad) AS with_ad_click_source,
    shared._ratio((count(*) FILTER (WHERE c.from_ad))::numeric, (count(*))::numeric, 4) AS share,
    0.50 AS target,
    COALESCE((shared._ratio((count(*) FILTER (WHERE c.from_ad))::numeric, (count(*))::numeric, 4) > 0.50), false) AS met
   FROM ( SELECT ((e.fbc IS NOT NULL) OR (p.meta_fbc IS NOT NULL) OR (lower(p.utm_source) = ANY (ARRAY['meta'::text, 'facebook'::text, 'fb'::text, 'instagram'::text, 'ig'::text, 'messenger'::text, 'audience_network'::text, 'threads'::text, 'whatsapp'::text])) OR (EXISTS ( SELECT 1
                   FROM shared.identity_link l
                  WHERE ((l.person_id = e.person_id) AND (l.provider = 'meta_lead'::text))))) AS from_ad
           FROM (((( SELECT DISTINCT ON (x.event_ref) x.event_ref,
                    x.meta_event_name
                   FROM shared.attribution_events x
                  WHERE ((x.status = 'sent'::text) AND (x.created_at > (now() - '30 days'::interval)))
                  ORDER BY x.event_ref) a
             JOIN shared.conversion_family f ON (((f.meta_event_name = a.meta_event_name) AND f.enabled)))
             JOIN shared.event e ON ((e.id = a.event_ref)))
             LEFT JOIN shared.person p ON ((p.id = e.person_id)))) c;


--
-- Name: VIEW metric_ad_click_source; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.metric_ad_click_source IS 'PRD metric "> 50% of conversions have an ad click source": delivered conversions (30 days) with an fbc, a Meta UTM source or a Lead Ads lead behind them.';


--
-- Name: metric_insights_freshness; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.metric_insights_freshness AS
 SELECT max(p.finished_at) AS last_pull_at,
    round((EXTRACT(epoch FROM (now() - max(p.finished_at))) / (60)::numeric), 1) AS minutes,
    15 AS target_minutes,
    COALESCE(((EXTRACT(epoch FROM (now() - max(p.finished_at))) / (60)::numeric) < (15)::numeric), false) AS met,
    ( SELECT count(*) AS count
           FROM shared.insights_pull f
          WHERE ((f.status = 'failed'::text) AND (f.started_at > (now() - '24:00:00'::interval)))) AS failed_pulls_24h
   FROM shared.insights_pull p
  WHERE (p.status = 'succeeded'::text);


--
-- Name: VIEW metric_insights_freshness; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.metric_insights_freshness IS 'PRD metric "dashboard insights latency < 15 min from Meta": minutes since the newest successful pull (API caches are dropped when a pull lands).';


--
-- Name: metric_lead_to_customer; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.metric_lead_to_customer AS
 SELECT count(*) AS customers,
    count(*) FILTER (WHERE p.traced) AS traced_to_source,
    count(*) FILTER (WHERE p.from_lead_ad) AS from_lead_ads,
    shared._ratio((count(*) FILTER (WHERE p.traced))::numeric, (count(*))::numeric, 4) AS share,
    0.80 AS target,
    COALESCE((shared._ratio((count(*) FILTER (WHERE p.traced))::numeric, (count(*))::numeric, 4) > 0.80), false) AS met
   FROM ( SELECT ((x.source_product IS NOT NULL) AND ((x.utm_source IS NOT NULL) OR (x.meta_fbc IS NOT NULL) OR (x.meta_lead_form_id IS NOT NULL))) AS traced,
            (x.meta_lead_form_id IS NOT NULL) AS from_lead_ad
           FROM shared.person x
          WHERE (x.lifecycle_stage = 'customer'::shared.lifecycle_stage)) p;


--
-- Name: VIEW metric_lead_to_customer; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.metric_lead_to_customer IS 'PRD metric "> 80% of customers traced to source": customers whose first touch (product and UTM source, click id or lead form) is known.';


--
-- Name: metric_match_key_coverage; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.metric_match_key_coverage AS
 SELECT a.product_id AS project,
    a.meta_event_name,
    count(*) AS delivered,
    round(avg((('em'::text = ANY (a.match_keys)))::integer), 4) AS em_share,
    round(avg((('ph'::text = ANY (a.match_keys)))::integer), 4) AS ph_share,
    round(avg((('external_id'::text = ANY (a.match_keys)))::integer), 4) AS external_id_share,
    round(avg(((a.match_keys && ARRAY['fbc'::text, 'fbp'::text]))::integer), 4) AS fbc_or_fbp_share,
    round(avg(((a.match_keys @> ARRAY['client_ip_address'::text, 'client_user_agent'::text]))::integer), 4) AS ip_and_ua_share,
    round(avg(((a.match_keys && ARRAY['em'::text, 'ph'::text]))::integer), 4) AS em_or_ph_share,
    0.70 AS target,
    (avg(((a.match_keys && ARRAY['em'::text, 'ph'::text]))::integer) > 0.70) AS met
   FROM ( SELECT DISTINCT ON (x.event_ref) x.product_id,
            x.meta_event_name,
            x.match_keys
           FROM shared.attribution_events x
          WHERE ((x.status = 'sent'::text) AND (x.created_at > (now() - '7 days'::interval)))
          ORDER BY x.event_ref, x.id) a
  GROUP BY a.product_id, a.meta_event_name;


--
-- Name: VIEW metric_match_key_coverage; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.metric_match_key_coverage IS 'PRD metric "CAPI event match rate > 70%": per product and event, the share of delivered events (7 days) carrying em, ph, external_id, fbc/fbp, IP+UA; met when em or ph is on more than 70%.';


--
-- Name: metric_roas_cpa_change; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.metric_roas_cpa_change AS
 WITH live AS (
         SELECT ((f.changed_at AT TIME ZONE 'UTC'::text))::date AS day
           FROM shared.feature_flag f
          WHERE ((f.flag_key = 'META_CAPI_INGEST_ENABLED'::text) AND f.enabled)
        ), windows AS (
         SELECT sum(r.spend) FILTER (WHERE ((r.date >= (l.day - 30)) AND (r.date < l.day))) AS spend_before,
            sum(r.conversion_value) FILTER (WHERE ((r.date >= (l.day - 30)) AND (r.date < l.day))) AS value_before,
            sum(r.conversions) FILTER (WHERE ((r.date >= (l.day - 30)) AND (r.date < l.day))) AS conv_before,
            sum(r.spend) FILTER (WHERE ((r.date >= l.day) AND (r.date < (l.day + 30)))) AS spend_after,
            sum(r.conversion_value) FILTER (WHERE ((r.date >= l.day) AND (r.date < (l.day + 30)))) AS value_after,
            sum(r.conversions) FILTER (WHERE ((r.date >= l.day) AND (r.date < (l.day + 30)))) AS conv_after,
            min(l.day) AS live_since
           FROM (live l
             JOIN shared.performance_campaign_daily r ON (((r.date >= (l.day - 30)) AND (r.date < (l.day + 30)))))
        )
 SELECT w.live_since,
    shared._ratio(w.value_before, w.spend_before) AS roas_before,
    shared._ratio(w.value_after, w.spend_after) AS roas_after,
    shared._ratio((shared._ratio(w.value_after, w.spend_after, 6) - shared._ratio(w.value_before, w.spend_before, 6)), shared._ratio(w.value_before, w.spend_before, 6), 4) AS roas_change,
    0.20 AS roas_target,
    COALESCE((shared._ratio(w.value_after, w.spend_after, 6) >= (1.2 * shared._ratio(w.value_before, w.spend_before, 6))), false) AS roas_met,
    shared._ratio(w.spend_before, w.conv_before) AS cpa_before,
    shared._ratio(w.spend_after, w.conv_after) AS cpa_after,
    shared._ratio((shared._ratio(w.spend_after, w.conv_after, 6) - shared._ratio(w.spend_before, w.conv_before, 6)), shared._ratio(w.spend_before, w.conv_before, 6), 4) AS cpa_change,
    '-0.15'::numeric AS cpa_target,
    COALESCE((shared._ratio(w.spend_after, w.conv_after, 6) <= (0.85 * shared._ratio(w.spend_before, w.conv_before, 6))), false) AS cpa_met
   FROM windows w;


--
-- Name: VIEW metric_roas_cpa_change; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.metric_roas_cpa_change IS 'PRD metrics "ROAS +20% within 30 days of CAPI" and "CPA -15% from baseline": Meta''s ROAS and CPA in the 30 days before META_CAPI_INGEST_ENABLED went on against the 30 days since.';


--
-- Name: performance_restatement; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.performance_restatement (
    id bigint NOT NULL,
    ad_id text NOT NULL,
    date date NOT NULL,
    pull_id bigint,
    restated_at timestamp with time zone DEFAULT now() NOT NULL,
    spend_before numeric(14,2) NOT NULL,
    spend_after numeric(14,2) NOT NULL,
    conversions_before numeric(14,2) NOT NULL,
    conversions_after numeric(14,2) NOT NULL,
    value_before numeric(14,2) NOT NULL,
    value_after numeric(14,2) NOT NULL
);


--
-- Name: TABLE performance_restatement; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.performance_restatement IS 'How a day''s figures moved between pulls (Meta restates recent days for up to 28 days).';


--
-- Name: performance_restatement_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.performance_restatement ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.performance_restatement_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: person_activity_daily; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.person_activity_daily WITH (security_invoker='true') AS
 SELECT a.person_id,
    a.product_id,
    a.day,
    a.first_at,
    a.last_at,
    a.events,
    a.usage,
    a.pricing_views,
    a.first_activation_at,
    a.payments,
    a.last_payment_at,
    a.plan,
    a.mrr,
    a.last_cancel_at,
    a.event_counts,
    a.first_payment_at,
    a.last_usage_at
   FROM shared._person_activity_row a
  WHERE (NOT (EXISTS ( SELECT
           FROM shared.person_activity_recent r
          WHERE ((r.person_id = a.person_id) AND (r.product_id = a.product_id) AND (r.day = a.day)))))
UNION ALL
 SELECT r.person_id,
    r.product_id,
    r.day,
    r.first_at,
    r.last_at,
    r.events,
    r.usage,
    r.pricing_views,
    r.first_activation_at,
    r.payments,
    r.last_payment_at,
    r.plan,
    r.mrr,
    r.last_cancel_at,
    r.event_counts,
    r.first_payment_at,
    r.last_usage_at
   FROM shared.person_activity_recent r
  WHERE (NOT (EXISTS ( SELECT
           FROM shared.person_activity_settled s
          WHERE ((s.person_id = r.person_id) AND (s.product_id = r.product_id) AND (s.day = r.day)))))
UNION ALL
 SELECT s.person_id,
    s.product_id,
    s.day,
    m.first_at,
    m.last_at,
    m.events,
    m.usage,
    m.pricing_views,
    m.first_activation_at,
    m.payments,
    m.last_payment_at,
    m.plan,
    m.mrr,
    m.last_cancel_at,
    m.event_counts,
    m.first_payment_at,
    m.last_usage_at
   FROM ((shared.person_activity_settled s
     JOIN shared.person_activity_recent r ON (((r.person_id = s.person_id) AND (r.product_id = s.product_id) AND (r.day = s.day))))
     CROSS JOIN LATERAL shared._activity_day_merged(s.*, ROW(r.person_id, r.product_id, r.day, r.first_at, r.last_at, r.events, r.usage, r.pricing_views, r.first_activation_at, r.payments, r.last_payment_at, r.plan, r.mrr, r.last_cancel_at, r.event_counts, r.first_payment_at, r.last_usage_at)::shared.person_activity_settled) m(person_id, product_id, day, first_at, last_at, events, usage, pricing_views, first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at, event_counts, first_payment_at, last_usage_at));


--
-- Name: person_event_count; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.person_event_count AS
 SELECT d.person_id,
    d.product_id,
    c.key AS event_name,
    sum((c.value)::bigint) AS events
   FROM (shared._person_activity_row d
     CROSS JOIN LATERAL jsonb_each_text(d.event_counts) c(key, value))
  GROUP BY d.person_id, d.product_id, c.key;


--
-- Name: person_product_feature; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.person_product_feature AS
 SELECT g.person_id,
    g.product_id,
    g.first_seen_at,
    g.last_seen_at,
    g.events,
    g.activated_at,
    g.last_paid_at,
    g.plan,
    g.mrr,
    g.last_cancel_at,
    g.pricing_views_7d,
    g.usage_7d,
    g.usage_30d,
    g.pricing_views_30d,
    g.last_activity_at,
    g.first_paid_at,
    shared._feature_paid(g.last_paid_at, g.last_cancel_at) AS paid,
    shared._feature_churned_at(g.last_paid_at, g.last_cancel_at, g.last_seen_at, now()) AS churned_at
   FROM ( SELECT d.person_id,
            d.product_id,
            min(d.first_at) AS first_seen_at,
            max(d.last_at) AS last_seen_at,
            sum(d.events) AS events,
            min(d.first_activation_at) AS activated_at,
            max(d.last_payment_at) AS last_paid_at,
            (array_agg(d.plan ORDER BY d.last_payment_at DESC NULLS LAST))[1] AS plan,
            (array_agg(d.mrr ORDER BY d.last_payment_at DESC NULLS LAST))[1] AS mrr,
            max(d.last_cancel_at) AS last_cancel_at,
            COALESCE(sum(d.pricing_views) FILTER (WHERE (d.day > (shared._utc_day(now()) - 7))), (0)::bigint) AS pricing_views_7d,
            COALESCE(sum(d.usage) FILTER (WHERE (d.day > (shared._utc_day(now()) - 7))), (0)::bigint) AS usage_7d,
            COALESCE(sum(d.usage) FILTER (WHERE (d.day > (shared._utc_day(now()) - 30))), (0)::bigint) AS usage_30d,
            COALESCE(sum(d.pricing_views) FILTER (WHERE (d.day > (shared._utc_day(now()) - 30))), (0)::bigint) AS pricing_views_30d,
            max(d.last_usage_at) AS last_activity_at,
            min(d.first_payment_at) AS first_paid_at
           FROM shared._person_activity_row d
          GROUP BY d.person_id, d.product_id) g;


--
-- Name: product_event; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.product_event (
    product_event_id bigint NOT NULL,
    product_id text,
    event_name text NOT NULL,
    meta_event_name text NOT NULL,
    description text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT product_event_event_name_format CHECK ((event_name ~ '^[A-Za-z][A-Za-z0-9_]{0,49}$'::text)),
    CONSTRAINT product_event_meta_event_name_format CHECK ((meta_event_name ~ '^[A-Za-z][A-Za-z0-9_]{0,49}$'::text))
);


--
-- Name: TABLE product_event; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.product_event IS 'Events a product''s pages may send through the relay (GAP-005), and their Meta event names.';


--
-- Name: product_event_product_event_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.product_event ALTER COLUMN product_event_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.product_event_product_event_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: projects; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.projects AS
 SELECT p.product_id AS project,
    p.display_name
   FROM shared.product p
UNION ALL
 SELECT 'unassigned'::text AS project,
    'Campaigns mapped to no project'::text AS display_name;


--
-- Name: VIEW projects; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.projects IS 'The projects insights are reported by: every product, and "unassigned" for unmapped campaigns.';


--
-- Name: segment_change_log; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.segment_change_log (
    id bigint NOT NULL,
    event_ids bigint[],
    person_ids uuid[],
    logged_at timestamp with time zone DEFAULT now() NOT NULL,
    event_id_first bigint,
    event_id_last bigint
);


--
-- Name: TABLE segment_change_log; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.segment_change_log IS 'Events and people written since the last evaluation, one row per statement; drained by it.';


--
-- Name: COLUMN segment_change_log.event_id_first; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON COLUMN shared.segment_change_log.event_id_first IS 'With event_id_last: the statement''s events are exactly the ids from first to last.';


--
-- Name: segment_change_log_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.segment_change_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.segment_change_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: segment_history; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.segment_history (
    id bigint NOT NULL,
    segment_id text NOT NULL,
    person_id uuid NOT NULL,
    change text NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    run_id bigint,
    CONSTRAINT segment_history_change_known CHECK ((change = ANY (ARRAY['join'::text, 'leave'::text])))
);


--
-- Name: TABLE segment_history; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.segment_history IS 'Every join and leave of every segment, with its time and the run that decided it.';


--
-- Name: segment_history_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.segment_history ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.segment_history_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: segment_overview; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.segment_overview AS
 SELECT s.segment_id,
    s.description,
    s.owner,
    s.audience_name,
    s.enabled,
    ( SELECT count(*) AS count
           FROM shared.segment_member m
          WHERE (m.segment_id = s.segment_id)) AS members,
    s.last_evaluated_at,
    s.last_error,
    s.created_at,
    s.updated_at,
    pg_get_viewdef((to_regclass(format('segments.%I'::text, s.segment_id)))::oid, true) AS definition
   FROM shared.segment s;


--
-- Name: segment_run; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.segment_run (
    run_id bigint NOT NULL,
    mode text NOT NULL,
    started_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    finished_at timestamp with time zone,
    candidates integer,
    features_ms numeric(12,1),
    joined integer DEFAULT 0 NOT NULL,
    "left" integer DEFAULT 0 NOT NULL,
    segments jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT segment_run_mode_known CHECK ((mode = ANY (ARRAY['full'::text, 'incremental'::text])))
);


--
-- Name: TABLE segment_run; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON TABLE shared.segment_run IS 'One row per segment evaluation, with what it changed.';


--
-- Name: segment_run_run_id_seq; Type: SEQUENCE; Schema: shared; Owner: -
--

ALTER TABLE shared.segment_run ALTER COLUMN run_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shared.segment_run_run_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: setting_definition; Type: TABLE; Schema: shared; Owner: -
--

CREATE TABLE shared.setting_definition (
    setting_key text NOT NULL,
    description text NOT NULL,
    value_type text NOT NULL,
    value_pattern text,
    min_value bigint,
    max_value bigint,
    per_product boolean DEFAULT false NOT NULL,
    CONSTRAINT setting_definition_key_format CHECK ((setting_key ~ '^[A-Z][A-Z0-9_]+$'::text)),
    CONSTRAINT setting_definition_value_type_known CHECK ((value_type = ANY (ARRAY['text'::text, 'integer'::text, 'boolean'::text, 'object'::text, 'array'::text])))
);


--
-- Name: success_metrics; Type: VIEW; Schema: shared; Owner: -
--

CREATE VIEW shared.success_metrics AS
 SELECT 'capi_match_rate'::text AS metric,
    'CAPI event match rate'::text AS name,
    '> 70%'::text AS target,
    ( SELECT round((sum((m.em_or_ph_share * (m.delivered)::numeric)) / NULLIF(sum(m.delivered), (0)::numeric)), 4) AS round
           FROM shared.metric_match_key_coverage m) AS value,
    'share'::text AS unit,
    COALESCE(( SELECT ((sum((m.em_or_ph_share * (m.delivered)::numeric)) / NULLIF(sum(m.delivered), (0)::numeric)) > 0.70)
           FROM shared.metric_match_key_coverage m), false) AS met,
    'delivered events (7 days) carrying em or ph; Meta''s own EMQ is in Events Manager'::text AS measured_as
UNION ALL
 SELECT 'ad_click_source'::text AS metric,
    'Cross-product conversions with an ad click source'::text AS name,
    '> 50%'::text AS target,
    m.share AS value,
    'share'::text AS unit,
    m.met,
    'delivered conversions (30 days) with fbc, a Meta UTM or a Lead Ads lead'::text AS measured_as
   FROM shared.metric_ad_click_source m
UNION ALL
 SELECT 'roas_change'::text AS metric,
    'Ad ROAS improvement'::text AS name,
    '+20% within 30 days of CAPI'::text AS target,
    m.roas_change AS value,
    'change'::text AS unit,
    COALESCE(m.roas_met, false) AS met,
    'Meta ROAS, 30 days after META_CAPI_INGEST_ENABLED vs the 30 days before'::text AS measured_as
   FROM (( SELECT 1 AS "?column?") one
     LEFT JOIN shared.metric_roas_cpa_change m ON (true))
UNION ALL
 SELECT 'cpa_change'::text AS metric,
    'Cost per acquisition reduction'::text AS name,
    '-15% from baseline'::text AS target,
    m.cpa_change AS value,
    'change'::text AS unit,
    COALESCE(m.cpa_met, false) AS met,
    'Meta CPA, 30 days after META_CAPI_INGEST_ENABLED vs the 30 days before'::text AS measured_as
   FROM (( SELECT 1 AS "?column?") one
     LEFT JOIN shared.metric_roas_cpa_change m ON (true))
UNION ALL
 SELECT 'lead_to_customer'::text AS metric,
    'Lead to customer attribution'::text AS name,
    '> 80% of customers traced'::text AS target,
    m.share AS value,
    'share'::text AS unit,
    m.met,
    'customers whose first touch (product + UTM, click id or lead form) is known'::text AS measured_as
   FROM shared.metric_lead_to_customer m
UNION ALL
 SELECT 'insights_latency'::text AS metric,
    'Dashboard insights latency'::text AS name,
    '< 15 min from Meta'::text AS target,
    m.minutes AS value,
    'minutes'::text AS unit,
    m.met,
    'minutes since the newest successful insights pull'::text AS measured_as
   FROM shared.metric_insights_freshness m;


--
-- Name: VIEW success_metrics; Type: COMMENT; Schema: shared; Owner: -
--

COMMENT ON VIEW shared.success_metrics IS 'The PRD''s success metrics, one row each: target, current value, unit and whether it is met.';


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: gdp_migrations; Owner: -
--

ALTER TABLE ONLY gdp_migrations.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: a_meta_capi a_meta_capi_pkey; Type: CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.a_meta_capi
    ADD CONSTRAINT a_meta_capi_pkey PRIMARY KEY (msg_id);


--
-- Name: a_meta_leads a_meta_leads_pkey; Type: CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.a_meta_leads
    ADD CONSTRAINT a_meta_leads_pkey PRIMARY KEY (msg_id);


--
-- Name: a_segment_changes a_segment_changes_pkey; Type: CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.a_segment_changes
    ADD CONSTRAINT a_segment_changes_pkey PRIMARY KEY (msg_id);


--
-- Name: meta meta_queue_name_key; Type: CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.meta
    ADD CONSTRAINT meta_queue_name_key UNIQUE (queue_name);


--
-- Name: notify_insert_throttle notify_insert_throttle_queue_name_key; Type: CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.notify_insert_throttle
    ADD CONSTRAINT notify_insert_throttle_queue_name_key UNIQUE (queue_name);


--
-- Name: q_meta_capi q_meta_capi_pkey; Type: CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.q_meta_capi
    ADD CONSTRAINT q_meta_capi_pkey PRIMARY KEY (msg_id);


--
-- Name: q_meta_leads q_meta_leads_pkey; Type: CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.q_meta_leads
    ADD CONSTRAINT q_meta_leads_pkey PRIMARY KEY (msg_id);


--
-- Name: q_segment_changes q_segment_changes_pkey; Type: CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.q_segment_changes
    ADD CONSTRAINT q_segment_changes_pkey PRIMARY KEY (msg_id);


--
-- Name: topic_bindings topic_bindings_unique_pattern_queue; Type: CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.topic_bindings
    ADD CONSTRAINT topic_bindings_unique_pattern_queue UNIQUE (pattern, queue_name);


--
-- Name: attribution_events attribution_events_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.attribution_events
    ADD CONSTRAINT attribution_events_pkey PRIMARY KEY (id);


--
-- Name: audience_ack audience_ack_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_ack
    ADD CONSTRAINT audience_ack_pkey PRIMARY KEY (segment_id, person_id);


--
-- Name: audience_erased audience_erased_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_erased
    ADD CONSTRAINT audience_erased_pkey PRIMARY KEY (segment_id, person_id);


--
-- Name: audience_removal_allowance audience_removal_allowance_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_removal_allowance
    ADD CONSTRAINT audience_removal_allowance_pkey PRIMARY KEY (id);


--
-- Name: audience_replace_row audience_replace_row_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_replace_row
    ADD CONSTRAINT audience_replace_row_pkey PRIMARY KEY (segment_id, person_id);


--
-- Name: audience_sync_run audience_sync_run_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_sync_run
    ADD CONSTRAINT audience_sync_run_pkey PRIMARY KEY (id);


--
-- Name: campaign_project campaign_project_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.campaign_project
    ADD CONSTRAINT campaign_project_pkey PRIMARY KEY (campaign_id);


--
-- Name: capi_dead_letter capi_dead_letter_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.capi_dead_letter
    ADD CONSTRAINT capi_dead_letter_pkey PRIMARY KEY (id);


--
-- Name: capi_pixel_state capi_pixel_state_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.capi_pixel_state
    ADD CONSTRAINT capi_pixel_state_pkey PRIMARY KEY (pixel_id);


--
-- Name: consent_log consent_log_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.consent_log
    ADD CONSTRAINT consent_log_pkey PRIMARY KEY (id);


--
-- Name: conversion_family conversion_family_meta_event_name_key; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.conversion_family
    ADD CONSTRAINT conversion_family_meta_event_name_key UNIQUE (meta_event_name);


--
-- Name: conversion_family conversion_family_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.conversion_family
    ADD CONSTRAINT conversion_family_pkey PRIMARY KEY (family);


--
-- Name: conversion_rule conversion_rule_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.conversion_rule
    ADD CONSTRAINT conversion_rule_pkey PRIMARY KEY (rule_id);


--
-- Name: dashboard_key dashboard_key_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.dashboard_key
    ADD CONSTRAINT dashboard_key_pkey PRIMARY KEY (id);


--
-- Name: dashboard_key dashboard_key_sha256_key; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.dashboard_key
    ADD CONSTRAINT dashboard_key_sha256_key UNIQUE (key_sha256);


--
-- Name: deploy_checklist_item deploy_checklist_item_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.deploy_checklist_item
    ADD CONSTRAINT deploy_checklist_item_pkey PRIMARY KEY (item_key);


--
-- Name: deploy_checklist_item deploy_checklist_item_position_key; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.deploy_checklist_item
    ADD CONSTRAINT deploy_checklist_item_position_key UNIQUE ("position");


--
-- Name: erasure erasure_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.erasure
    ADD CONSTRAINT erasure_pkey PRIMARY KEY (id);


--
-- Name: event event_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.event
    ADD CONSTRAINT event_pkey PRIMARY KEY (id);


--
-- Name: event event_product_id_event_id_key; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.event
    ADD CONSTRAINT event_product_id_event_id_key UNIQUE (product_id, event_id);


--
-- Name: feature_event_kind feature_event_kind_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_event_kind
    ADD CONSTRAINT feature_event_kind_pkey PRIMARY KEY (id);


--
-- Name: feature_flag_checklist feature_flag_checklist_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_flag_checklist
    ADD CONSTRAINT feature_flag_checklist_pkey PRIMARY KEY (flag_key, item_key);


--
-- Name: feature_flag feature_flag_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_flag
    ADD CONSTRAINT feature_flag_pkey PRIMARY KEY (flag_key);


--
-- Name: feature_flag_prerequisite feature_flag_prerequisite_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_flag_prerequisite
    ADD CONSTRAINT feature_flag_prerequisite_pkey PRIMARY KEY (flag_key, requires_flag_key);


--
-- Name: feature_trigger_fired feature_trigger_fired_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_trigger_fired
    ADD CONSTRAINT feature_trigger_fired_pkey PRIMARY KEY (rule_id, person_id);


--
-- Name: gate_audit gate_audit_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.gate_audit
    ADD CONSTRAINT gate_audit_pkey PRIMARY KEY (id);


--
-- Name: identity_link identity_link_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.identity_link
    ADD CONSTRAINT identity_link_pkey PRIMARY KEY (id);


--
-- Name: identity_link identity_link_provider_external_id_key; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.identity_link
    ADD CONSTRAINT identity_link_provider_external_id_key UNIQUE (provider, external_id);


--
-- Name: insights_conversion_action insights_conversion_action_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.insights_conversion_action
    ADD CONSTRAINT insights_conversion_action_pkey PRIMARY KEY (family, action_type);


--
-- Name: insights_conversion_action insights_conversion_action_rank_key; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.insights_conversion_action
    ADD CONSTRAINT insights_conversion_action_rank_key UNIQUE (family, rank);


--
-- Name: insights_pull insights_pull_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.insights_pull
    ADD CONSTRAINT insights_pull_pkey PRIMARY KEY (id);


--
-- Name: lead_field_map lead_field_map_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.lead_field_map
    ADD CONSTRAINT lead_field_map_pkey PRIMARY KEY (form_id, meta_field);


--
-- Name: meta_audience meta_audience_audience_id_key; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.meta_audience
    ADD CONSTRAINT meta_audience_audience_id_key UNIQUE (audience_id);


--
-- Name: meta_audience meta_audience_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.meta_audience
    ADD CONSTRAINT meta_audience_pkey PRIMARY KEY (segment_id);


--
-- Name: meta_lead meta_lead_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.meta_lead
    ADD CONSTRAINT meta_lead_pkey PRIMARY KEY (leadgen_id);


--
-- Name: performance_campaign_daily performance_campaign_daily_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.performance_campaign_daily
    ADD CONSTRAINT performance_campaign_daily_pkey PRIMARY KEY (date, campaign_id);


--
-- Name: performance_daily performance_daily_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.performance_daily
    ADD CONSTRAINT performance_daily_pkey PRIMARY KEY (ad_id, date);


--
-- Name: performance_restatement performance_restatement_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.performance_restatement
    ADD CONSTRAINT performance_restatement_pkey PRIMARY KEY (id);


--
-- Name: person_activity_recent person_activity_recent_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.person_activity_recent
    ADD CONSTRAINT person_activity_recent_pkey PRIMARY KEY (person_id, product_id, day);


--
-- Name: person_activity_settled person_activity_settled_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.person_activity_settled
    ADD CONSTRAINT person_activity_settled_pkey PRIMARY KEY (person_id, product_id, day);


--
-- Name: person person_email_key; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.person
    ADD CONSTRAINT person_email_key UNIQUE (email);


--
-- Name: person_feature person_feature_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.person_feature
    ADD CONSTRAINT person_feature_pkey PRIMARY KEY (person_id);


--
-- Name: person person_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.person
    ADD CONSTRAINT person_pkey PRIMARY KEY (id);


--
-- Name: product_credential product_credential_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.product_credential
    ADD CONSTRAINT product_credential_pkey PRIMARY KEY (id);


--
-- Name: product_event product_event_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.product_event
    ADD CONSTRAINT product_event_pkey PRIMARY KEY (product_event_id);


--
-- Name: product product_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.product
    ADD CONSTRAINT product_pkey PRIMARY KEY (product_id);


--
-- Name: segment_change_log segment_change_log_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.segment_change_log
    ADD CONSTRAINT segment_change_log_pkey PRIMARY KEY (id);


--
-- Name: segment_history segment_history_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.segment_history
    ADD CONSTRAINT segment_history_pkey PRIMARY KEY (id);


--
-- Name: segment_member segment_member_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.segment_member
    ADD CONSTRAINT segment_member_pkey PRIMARY KEY (segment_id, person_id);


--
-- Name: segment segment_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.segment
    ADD CONSTRAINT segment_pkey PRIMARY KEY (segment_id);


--
-- Name: segment_run segment_run_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.segment_run
    ADD CONSTRAINT segment_run_pkey PRIMARY KEY (run_id);


--
-- Name: service_key service_key_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.service_key
    ADD CONSTRAINT service_key_pkey PRIMARY KEY (id);


--
-- Name: service_key service_key_sha256_key; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.service_key
    ADD CONSTRAINT service_key_sha256_key UNIQUE (key_sha256);


--
-- Name: setting_definition setting_definition_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.setting_definition
    ADD CONSTRAINT setting_definition_pkey PRIMARY KEY (setting_key);


--
-- Name: setting setting_pkey; Type: CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.setting
    ADD CONSTRAINT setting_pkey PRIMARY KEY (setting_key, scope);


--
-- Name: archived_at_idx_meta_capi; Type: INDEX; Schema: pgmq; Owner: -
--

CREATE INDEX archived_at_idx_meta_capi ON pgmq.a_meta_capi USING btree (archived_at);


--
-- Name: archived_at_idx_meta_leads; Type: INDEX; Schema: pgmq; Owner: -
--

CREATE INDEX archived_at_idx_meta_leads ON pgmq.a_meta_leads USING btree (archived_at);


--
-- Name: archived_at_idx_segment_changes; Type: INDEX; Schema: pgmq; Owner: -
--

CREATE INDEX archived_at_idx_segment_changes ON pgmq.a_segment_changes USING btree (archived_at);


--
-- Name: idx_notify_throttle_active; Type: INDEX; Schema: pgmq; Owner: -
--

CREATE INDEX idx_notify_throttle_active ON pgmq.notify_insert_throttle USING btree (queue_name, last_notified_at) WHERE (throttle_interval_ms > 0);


--
-- Name: idx_topic_bindings_covering; Type: INDEX; Schema: pgmq; Owner: -
--

CREATE INDEX idx_topic_bindings_covering ON pgmq.topic_bindings USING btree (pattern) INCLUDE (queue_name, compiled_regex);


--
-- Name: q_meta_capi_event_idx; Type: INDEX; Schema: pgmq; Owner: -
--

CREATE INDEX q_meta_capi_event_idx ON pgmq.q_meta_capi USING btree ((((message ->> 'event'::text))::bigint));


--
-- Name: q_meta_capi_vt_idx; Type: INDEX; Schema: pgmq; Owner: -
--

CREATE INDEX q_meta_capi_vt_idx ON pgmq.q_meta_capi USING btree (vt);


--
-- Name: q_meta_leads_vt_idx; Type: INDEX; Schema: pgmq; Owner: -
--

CREATE INDEX q_meta_leads_vt_idx ON pgmq.q_meta_leads USING btree (vt);


--
-- Name: q_segment_changes_vt_idx; Type: INDEX; Schema: pgmq; Owner: -
--

CREATE INDEX q_segment_changes_vt_idx ON pgmq.q_segment_changes USING btree (vt);


--
-- Name: attribution_events_created_at_brin; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX attribution_events_created_at_brin ON shared.attribution_events USING brin (created_at);


--
-- Name: attribution_events_event_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX attribution_events_event_idx ON shared.attribution_events USING btree (product_id, event_id);


--
-- Name: attribution_events_person_id_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX attribution_events_person_id_idx ON shared.attribution_events USING btree (person_id);


--
-- Name: attribution_events_sent_day_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX attribution_events_sent_day_idx ON shared.attribution_events USING btree ((((created_at AT TIME ZONE 'UTC'::text))::date), product_id) WHERE (status = 'sent'::text);


--
-- Name: attribution_events_status_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX attribution_events_status_idx ON shared.attribution_events USING btree (status, created_at);


--
-- Name: audience_sync_run_segment_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX audience_sync_run_segment_idx ON shared.audience_sync_run USING btree (segment_id, id DESC);


--
-- Name: capi_dead_letter_event_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX capi_dead_letter_event_idx ON shared.capi_dead_letter USING btree (product_id, event_id);


--
-- Name: capi_dead_letter_pending_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX capi_dead_letter_pending_idx ON shared.capi_dead_letter USING btree (dead_lettered_at) WHERE (replayed_at IS NULL);


--
-- Name: consent_log_person_id_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX consent_log_person_id_idx ON shared.consent_log USING btree (person_id, changed_at);


--
-- Name: conversion_rule_product_event_key; Type: INDEX; Schema: shared; Owner: -
--

CREATE UNIQUE INDEX conversion_rule_product_event_key ON shared.conversion_rule USING btree (COALESCE(product_id, '*'::text), event_name);


--
-- Name: erasure_pending_audiences_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX erasure_pending_audiences_idx ON shared.erasure USING btree (erased_at) WHERE (audiences_cleared_at IS NULL);


--
-- Name: event_person_id_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX event_person_id_idx ON shared.event USING btree (person_id, occurred_at);


--
-- Name: event_received_at_brin; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX event_received_at_brin ON shared.event USING brin (received_at);


--
-- Name: feature_event_kind_product_event_key; Type: INDEX; Schema: shared; Owner: -
--

CREATE UNIQUE INDEX feature_event_kind_product_event_key ON shared.feature_event_kind USING btree (COALESCE(product_id, '*'::text), event_name);


--
-- Name: feature_trigger_fired_person_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX feature_trigger_fired_person_idx ON shared.feature_trigger_fired USING btree (person_id);


--
-- Name: gate_audit_subject_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX gate_audit_subject_idx ON shared.gate_audit USING btree (subject_kind, subject_key, changed_at);


--
-- Name: identity_link_person_id_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX identity_link_person_id_idx ON shared.identity_link USING btree (person_id);


--
-- Name: insights_pull_succeeded_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX insights_pull_succeeded_idx ON shared.insights_pull USING btree (finished_at DESC) WHERE (status = 'succeeded'::text);


--
-- Name: meta_lead_form_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX meta_lead_form_idx ON shared.meta_lead USING btree (form_id, received_at);


--
-- Name: meta_lead_person_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX meta_lead_person_idx ON shared.meta_lead USING btree (person_id);


--
-- Name: performance_daily_campaign_date_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX performance_daily_campaign_date_idx ON shared.performance_daily USING btree (campaign_id, date);


--
-- Name: performance_restatement_day_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX performance_restatement_day_idx ON shared.performance_restatement USING btree (date, ad_id);


--
-- Name: person_activity_recent_day_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX person_activity_recent_day_idx ON shared.person_activity_recent USING btree (day);


--
-- Name: person_consent_withdrawn_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX person_consent_withdrawn_idx ON shared.person USING btree (id) WHERE (consent_status = 'withdrawn'::shared.consent_status);


--
-- Name: person_feature_next_change_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX person_feature_next_change_idx ON shared.person_feature USING btree (next_change_at);


--
-- Name: person_updated_at_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX person_updated_at_idx ON shared.person USING btree (updated_at);


--
-- Name: product_credential_product_id_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX product_credential_product_id_idx ON shared.product_credential USING btree (product_id);


--
-- Name: product_event_product_event_key; Type: INDEX; Schema: shared; Owner: -
--

CREATE UNIQUE INDEX product_event_product_event_key ON shared.product_event USING btree (COALESCE(product_id, '*'::text), event_name);


--
-- Name: segment_history_person_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX segment_history_person_idx ON shared.segment_history USING btree (person_id);


--
-- Name: segment_history_segment_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX segment_history_segment_idx ON shared.segment_history USING btree (segment_id, at);


--
-- Name: segment_member_person_id_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX segment_member_person_id_idx ON shared.segment_member USING btree (person_id);


--
-- Name: service_key_product_id_idx; Type: INDEX; Schema: shared; Owner: -
--

CREATE INDEX service_key_product_id_idx ON shared.service_key USING btree (product_id);


--
-- Name: event event_check_properties; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER event_check_properties AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_properties();


--
-- Name: event event_check_references; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER event_check_references AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_references();


--
-- Name: event event_check_references_on_update; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER event_check_references_on_update BEFORE UPDATE OF product_id, person_id, meta_user_data ON shared.event FOR EACH ROW EXECUTE FUNCTION shared._event_check_references_on_update();


--
-- Name: event event_enqueue_for_meta; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER event_enqueue_for_meta AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_enqueue_for_meta();


--
-- Name: event event_features; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER event_features AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_features();


--
-- Name: person person_after_delete; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER person_after_delete AFTER DELETE ON shared.person REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_after_delete();


--
-- Name: person person_audience_erased; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER person_audience_erased AFTER DELETE ON shared.person REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT EXECUTE FUNCTION shared._audience_person_erased();


--
-- Name: person person_before_write; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER person_before_write BEFORE INSERT OR UPDATE ON shared.person FOR EACH ROW EXECUTE FUNCTION shared._person_before_write();


--
-- Name: person person_features_inserted; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER person_features_inserted AFTER INSERT ON shared.person REFERENCING NEW TABLE AS changed_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_features_changed();


--
-- Name: person person_features_updated; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER person_features_updated AFTER UPDATE ON shared.person REFERENCING NEW TABLE AS changed_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_features_changed();


--
-- Name: person person_segment_rows_erased; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER person_segment_rows_erased AFTER DELETE ON shared.person REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_segment_rows_erased();


--
-- Name: person person_withdrawal_waits_for_delivery; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER person_withdrawal_waits_for_delivery BEFORE UPDATE OF consent_status ON shared.person FOR EACH ROW WHEN (((new.consent_status = 'withdrawn'::shared.consent_status) AND (old.consent_status <> 'withdrawn'::shared.consent_status))) EXECUTE FUNCTION shared._person_withdrawal_waits_for_delivery();


--
-- Name: product product_before_delete; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER product_before_delete BEFORE DELETE ON shared.product FOR EACH ROW EXECUTE FUNCTION shared._product_before_delete();


--
-- Name: segment_member segment_member_joined; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER segment_member_joined AFTER INSERT ON shared.segment_member REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION shared._segment_member_changed();


--
-- Name: segment_member segment_member_left; Type: TRIGGER; Schema: shared; Owner: -
--

CREATE TRIGGER segment_member_left AFTER DELETE ON shared.segment_member REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION shared._segment_member_changed();


--
-- Name: notify_insert_throttle notify_insert_throttle_meta_queue_name_fk; Type: FK CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.notify_insert_throttle
    ADD CONSTRAINT notify_insert_throttle_meta_queue_name_fk FOREIGN KEY (queue_name) REFERENCES pgmq.meta(queue_name) ON DELETE CASCADE;


--
-- Name: topic_bindings topic_bindings_meta_queue_name_fk; Type: FK CONSTRAINT; Schema: pgmq; Owner: -
--

ALTER TABLE ONLY pgmq.topic_bindings
    ADD CONSTRAINT topic_bindings_meta_queue_name_fk FOREIGN KEY (queue_name) REFERENCES pgmq.meta(queue_name) ON DELETE CASCADE;


--
-- Name: audience_ack audience_ack_segment_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_ack
    ADD CONSTRAINT audience_ack_segment_id_fkey FOREIGN KEY (segment_id) REFERENCES shared.meta_audience(segment_id) ON DELETE CASCADE;


--
-- Name: audience_erased audience_erased_segment_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_erased
    ADD CONSTRAINT audience_erased_segment_id_fkey FOREIGN KEY (segment_id) REFERENCES shared.meta_audience(segment_id) ON DELETE CASCADE;


--
-- Name: audience_removal_allowance audience_removal_allowance_segment_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_removal_allowance
    ADD CONSTRAINT audience_removal_allowance_segment_id_fkey FOREIGN KEY (segment_id) REFERENCES shared.meta_audience(segment_id) ON DELETE CASCADE;


--
-- Name: audience_removal_allowance audience_removal_allowance_used_by_run_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_removal_allowance
    ADD CONSTRAINT audience_removal_allowance_used_by_run_fkey FOREIGN KEY (used_by_run) REFERENCES shared.audience_sync_run(id);


--
-- Name: audience_replace_row audience_replace_row_segment_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.audience_replace_row
    ADD CONSTRAINT audience_replace_row_segment_id_fkey FOREIGN KEY (segment_id) REFERENCES shared.meta_audience(segment_id) ON DELETE CASCADE;


--
-- Name: campaign_project campaign_project_project_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.campaign_project
    ADD CONSTRAINT campaign_project_project_id_fkey FOREIGN KEY (project_id) REFERENCES shared.product(product_id);


--
-- Name: consent_log consent_log_person_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.consent_log
    ADD CONSTRAINT consent_log_person_id_fkey FOREIGN KEY (person_id) REFERENCES shared.person(id) ON DELETE CASCADE;


--
-- Name: conversion_rule conversion_rule_product_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.conversion_rule
    ADD CONSTRAINT conversion_rule_product_id_fkey FOREIGN KEY (product_id) REFERENCES shared.product(product_id);


--
-- Name: feature_event_kind feature_event_kind_product_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_event_kind
    ADD CONSTRAINT feature_event_kind_product_id_fkey FOREIGN KEY (product_id) REFERENCES shared.product(product_id) ON DELETE CASCADE;


--
-- Name: feature_flag_checklist feature_flag_checklist_flag_key_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_flag_checklist
    ADD CONSTRAINT feature_flag_checklist_flag_key_fkey FOREIGN KEY (flag_key) REFERENCES shared.feature_flag(flag_key) ON DELETE CASCADE;


--
-- Name: feature_flag_checklist feature_flag_checklist_item_key_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_flag_checklist
    ADD CONSTRAINT feature_flag_checklist_item_key_fkey FOREIGN KEY (item_key) REFERENCES shared.deploy_checklist_item(item_key) ON DELETE CASCADE;


--
-- Name: feature_flag_prerequisite feature_flag_prerequisite_flag_key_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_flag_prerequisite
    ADD CONSTRAINT feature_flag_prerequisite_flag_key_fkey FOREIGN KEY (flag_key) REFERENCES shared.feature_flag(flag_key) ON DELETE CASCADE;


--
-- Name: feature_flag_prerequisite feature_flag_prerequisite_requires_flag_key_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_flag_prerequisite
    ADD CONSTRAINT feature_flag_prerequisite_requires_flag_key_fkey FOREIGN KEY (requires_flag_key) REFERENCES shared.feature_flag(flag_key) ON DELETE CASCADE;


--
-- Name: feature_trigger_fired feature_trigger_fired_person_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_trigger_fired
    ADD CONSTRAINT feature_trigger_fired_person_id_fkey FOREIGN KEY (person_id) REFERENCES shared.person(id) ON DELETE CASCADE;


--
-- Name: feature_trigger_fired feature_trigger_fired_rule_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.feature_trigger_fired
    ADD CONSTRAINT feature_trigger_fired_rule_id_fkey FOREIGN KEY (rule_id) REFERENCES shared.conversion_rule(rule_id) ON DELETE CASCADE;


--
-- Name: identity_link identity_link_person_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.identity_link
    ADD CONSTRAINT identity_link_person_id_fkey FOREIGN KEY (person_id) REFERENCES shared.person(id) ON DELETE CASCADE;


--
-- Name: insights_conversion_action insights_conversion_action_family_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.insights_conversion_action
    ADD CONSTRAINT insights_conversion_action_family_fkey FOREIGN KEY (family) REFERENCES shared.conversion_family(family) ON DELETE CASCADE;


--
-- Name: meta_lead meta_lead_person_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.meta_lead
    ADD CONSTRAINT meta_lead_person_id_fkey FOREIGN KEY (person_id) REFERENCES shared.person(id) ON DELETE SET NULL;


--
-- Name: person_feature person_feature_person_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.person_feature
    ADD CONSTRAINT person_feature_person_id_fkey FOREIGN KEY (person_id) REFERENCES shared.person(id) ON DELETE CASCADE;


--
-- Name: person person_source_product_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.person
    ADD CONSTRAINT person_source_product_fkey FOREIGN KEY (source_product) REFERENCES shared.product(product_id);


--
-- Name: product_credential product_credential_product_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.product_credential
    ADD CONSTRAINT product_credential_product_id_fkey FOREIGN KEY (product_id) REFERENCES shared.product(product_id);


--
-- Name: product_event product_event_product_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.product_event
    ADD CONSTRAINT product_event_product_id_fkey FOREIGN KEY (product_id) REFERENCES shared.product(product_id) ON DELETE CASCADE;


--
-- Name: segment_history segment_history_segment_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.segment_history
    ADD CONSTRAINT segment_history_segment_id_fkey FOREIGN KEY (segment_id) REFERENCES shared.segment(segment_id) ON DELETE CASCADE;


--
-- Name: segment_member segment_member_person_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.segment_member
    ADD CONSTRAINT segment_member_person_id_fkey FOREIGN KEY (person_id) REFERENCES shared.person(id) ON DELETE CASCADE;


--
-- Name: segment_member segment_member_segment_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.segment_member
    ADD CONSTRAINT segment_member_segment_id_fkey FOREIGN KEY (segment_id) REFERENCES shared.segment(segment_id) ON DELETE CASCADE;


--
-- Name: service_key service_key_product_id_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.service_key
    ADD CONSTRAINT service_key_product_id_fkey FOREIGN KEY (product_id) REFERENCES shared.product(product_id);


--
-- Name: setting setting_setting_key_fkey; Type: FK CONSTRAINT; Schema: shared; Owner: -
--

ALTER TABLE ONLY shared.setting
    ADD CONSTRAINT setting_setting_key_fkey FOREIGN KEY (setting_key) REFERENCES shared.setting_definition(setting_key);


--
-- Name: deploy_checklist_item Only the service role can read or acknowledge the checklist; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or acknowledge the checklist" ON shared.deploy_checklist_item TO service_role USING (true) WITH CHECK (true);


--
-- Name: conversion_rule Only the service role can read or change conversion rules; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or change conversion rules" ON shared.conversion_rule TO service_role USING (true) WITH CHECK (true);


--
-- Name: feature_flag Only the service role can read or change feature flags; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or change feature flags" ON shared.feature_flag TO service_role USING (true) WITH CHECK (true);


--
-- Name: feature_flag_checklist Only the service role can read or change flag checklists; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or change flag checklists" ON shared.feature_flag_checklist TO service_role USING (true) WITH CHECK (true);


--
-- Name: feature_flag_prerequisite Only the service role can read or change flag prerequisites; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or change flag prerequisites" ON shared.feature_flag_prerequisite TO service_role USING (true) WITH CHECK (true);


--
-- Name: product_event Only the service role can read or change product events; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or change product events" ON shared.product_event TO service_role USING (true) WITH CHECK (true);


--
-- Name: setting_definition Only the service role can read or change setting definitions; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or change setting definitions" ON shared.setting_definition TO service_role USING (true) WITH CHECK (true);


--
-- Name: setting Only the service role can read or change settings; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or change settings" ON shared.setting TO service_role USING (true) WITH CHECK (true);


--
-- Name: consent_log Only the service role can read or write consent records; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write consent records" ON shared.consent_log TO service_role USING (true) WITH CHECK (true);


--
-- Name: capi_dead_letter Only the service role can read or write dead letters; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write dead letters" ON shared.capi_dead_letter TO service_role USING (true) WITH CHECK (true);


--
-- Name: attribution_events Only the service role can read or write delivery records; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write delivery records" ON shared.attribution_events TO service_role USING (true) WITH CHECK (true);


--
-- Name: erasure Only the service role can read or write erasure records; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write erasure records" ON shared.erasure TO service_role USING (true) WITH CHECK (true);


--
-- Name: event Only the service role can read or write events; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write events" ON shared.event TO service_role USING (true) WITH CHECK (true);


--
-- Name: identity_link Only the service role can read or write identity links; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write identity links" ON shared.identity_link TO service_role USING (true) WITH CHECK (true);


--
-- Name: person Only the service role can read or write people; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write people" ON shared.person TO service_role USING (true) WITH CHECK (true);


--
-- Name: capi_pixel_state Only the service role can read or write pixel states; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write pixel states" ON shared.capi_pixel_state TO service_role USING (true) WITH CHECK (true);


--
-- Name: product Only the service role can read or write products; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write products" ON shared.product TO service_role USING (true) WITH CHECK (true);


--
-- Name: service_key Only the service role can read or write service keys; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write service keys" ON shared.service_key TO service_role USING (true) WITH CHECK (true);


--
-- Name: gate_audit Only the service role can read or write the gate audit; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read or write the gate audit" ON shared.gate_audit TO service_role USING (true) WITH CHECK (true);


--
-- Name: product_credential Only the service role can read product credentials; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Only the service role can read product credentials" ON shared.product_credential FOR SELECT TO service_role USING (true);


--
-- Name: event Products insert only their own events; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Products insert only their own events" ON shared.event FOR INSERT TO gdp_product WITH CHECK (((product_id = ( SELECT shared.product_claim() AS product_claim)) OR shared._refuse_foreign_product(product_id)));


--
-- Name: attribution_events Products read only their own delivery records; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Products read only their own delivery records" ON shared.attribution_events FOR SELECT TO gdp_product USING ((product_id = ( SELECT shared.product_claim() AS product_claim)));


--
-- Name: event Products read only their own events; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "Products read only their own events" ON shared.event FOR SELECT TO gdp_product USING ((product_id = ( SELECT shared.product_claim() AS product_claim)));


--
-- Name: capi_pixel_state The CAPI worker keeps the pixel breakers; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The CAPI worker keeps the pixel breakers" ON shared.capi_pixel_state TO gdp_capi_worker USING (true) WITH CHECK (true);


--
-- Name: identity_link The CAPI worker reads Lead Ads identities; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The CAPI worker reads Lead Ads identities" ON shared.identity_link FOR SELECT TO gdp_capi_worker USING (true);


--
-- Name: conversion_rule The CAPI worker reads conversion rules; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The CAPI worker reads conversion rules" ON shared.conversion_rule FOR SELECT TO gdp_capi_worker USING (true);


--
-- Name: feature_flag The CAPI worker reads feature flags; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The CAPI worker reads feature flags" ON shared.feature_flag FOR SELECT TO gdp_capi_worker USING (true);


--
-- Name: setting The CAPI worker reads settings; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The CAPI worker reads settings" ON shared.setting FOR SELECT TO gdp_capi_worker USING (true);


--
-- Name: event The CAPI worker reads the events it sends; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The CAPI worker reads the events it sends" ON shared.event FOR SELECT TO gdp_capi_worker USING (true);


--
-- Name: person The CAPI worker reads the people it sends; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The CAPI worker reads the people it sends" ON shared.person FOR SELECT TO gdp_capi_worker USING (true);


--
-- Name: capi_dead_letter The CAPI worker records dead letters; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The CAPI worker records dead letters" ON shared.capi_dead_letter FOR INSERT TO gdp_capi_worker WITH CHECK (true);


--
-- Name: attribution_events The CAPI worker records delivery outcomes; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The CAPI worker records delivery outcomes" ON shared.attribution_events FOR INSERT TO gdp_capi_worker WITH CHECK (true);


--
-- Name: person The HTTP service checks that people exist; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service checks that people exist" ON shared.person FOR SELECT TO gdp_api USING (true);


--
-- Name: capi_dead_letter The HTTP service counts dead letters; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service counts dead letters" ON shared.capi_dead_letter FOR SELECT TO gdp_api USING (true);


--
-- Name: conversion_rule The HTTP service reads conversion rules; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service reads conversion rules" ON shared.conversion_rule FOR SELECT TO gdp_api USING (true);


--
-- Name: attribution_events The HTTP service reads delivery records; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service reads delivery records" ON shared.attribution_events FOR SELECT TO gdp_api USING (true);


--
-- Name: event The HTTP service reads events; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service reads events" ON shared.event FOR SELECT TO gdp_api USING (true);


--
-- Name: feature_flag The HTTP service reads feature flags; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service reads feature flags" ON shared.feature_flag FOR SELECT TO gdp_api USING (true);


--
-- Name: capi_pixel_state The HTTP service reads pixel breakers; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service reads pixel breakers" ON shared.capi_pixel_state FOR SELECT TO gdp_api USING (true);


--
-- Name: product The HTTP service reads products; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service reads products" ON shared.product FOR SELECT TO gdp_api USING (true);


--
-- Name: product_event The HTTP service reads relay events; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service reads relay events" ON shared.product_event FOR SELECT TO gdp_api USING (true);


--
-- Name: setting The HTTP service reads settings; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service reads settings" ON shared.setting FOR SELECT TO gdp_api USING (true);


--
-- Name: event The HTTP service stores events of authenticated products; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The HTTP service stores events of authenticated products" ON shared.event FOR INSERT TO gdp_api WITH CHECK (true);


--
-- Name: identity_link The admin CLI lists identity links; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin CLI lists identity links" ON shared.identity_link FOR SELECT TO gdp_admin USING (true);


--
-- Name: person The admin CLI lists people; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin CLI lists people" ON shared.person FOR SELECT TO gdp_admin USING (true);


--
-- Name: campaign_project The admin CLI reads campaign projects; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin CLI reads campaign projects" ON shared.campaign_project FOR SELECT TO gdp_admin USING (true);


--
-- Name: capi_dead_letter The admin CLI reads dead letters; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin CLI reads dead letters" ON shared.capi_dead_letter FOR SELECT TO gdp_admin USING (true);


--
-- Name: dashboard_key The admin role reads dashboard keys; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin role reads dashboard keys" ON shared.dashboard_key FOR SELECT TO gdp_admin USING (true);


--
-- Name: feature_flag The admin role reads feature flags; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin role reads feature flags" ON shared.feature_flag FOR SELECT TO gdp_admin USING (true);


--
-- Name: feature_flag_checklist The admin role reads flag checklists; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin role reads flag checklists" ON shared.feature_flag_checklist FOR SELECT TO gdp_admin USING (true);


--
-- Name: feature_flag_prerequisite The admin role reads flag prerequisites; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin role reads flag prerequisites" ON shared.feature_flag_prerequisite FOR SELECT TO gdp_admin USING (true);


--
-- Name: product The admin role reads products; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin role reads products" ON shared.product FOR SELECT TO gdp_admin USING (true);


--
-- Name: setting_definition The admin role reads setting definitions; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin role reads setting definitions" ON shared.setting_definition FOR SELECT TO gdp_admin USING (true);


--
-- Name: setting The admin role reads settings; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin role reads settings" ON shared.setting FOR SELECT TO gdp_admin USING (true);


--
-- Name: deploy_checklist_item The admin role reads the checklist; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin role reads the checklist" ON shared.deploy_checklist_item FOR SELECT TO gdp_admin USING (true);


--
-- Name: gate_audit The admin role reads the gate audit; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The admin role reads the gate audit" ON shared.gate_audit FOR SELECT TO gdp_admin USING (true);


--
-- Name: meta_lead The service role can read Lead Ads leads; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read Lead Ads leads" ON shared.meta_lead TO service_role USING (true) WITH CHECK (true);


--
-- Name: audience_ack The service role can read acknowledged audience rows; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read acknowledged audience rows" ON shared.audience_ack TO service_role USING (true) WITH CHECK (true);


--
-- Name: performance_daily The service role can read ad performance; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read ad performance" ON shared.performance_daily TO service_role USING (true) WITH CHECK (true);


--
-- Name: audience_removal_allowance The service role can read and add removal acknowledgements; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read and add removal acknowledgements" ON shared.audience_removal_allowance TO service_role USING (true) WITH CHECK (true);


--
-- Name: meta_audience The service role can read and change audiences; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read and change audiences" ON shared.meta_audience TO service_role USING (true) WITH CHECK (true);


--
-- Name: campaign_project The service role can read and change campaign projects; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read and change campaign projects" ON shared.campaign_project TO service_role USING (true) WITH CHECK (true);


--
-- Name: insights_conversion_action The service role can read and change conversion action types; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read and change conversion action types" ON shared.insights_conversion_action TO service_role USING (true) WITH CHECK (true);


--
-- Name: conversion_family The service role can read and change conversion families; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read and change conversion families" ON shared.conversion_family TO service_role USING (true) WITH CHECK (true);


--
-- Name: feature_event_kind The service role can read and change feature event kinds; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read and change feature event kinds" ON shared.feature_event_kind TO service_role USING (true) WITH CHECK (true);


--
-- Name: lead_field_map The service role can read and change lead field mappings; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read and change lead field mappings" ON shared.lead_field_map TO service_role USING (true) WITH CHECK (true);


--
-- Name: segment The service role can read and change segments; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read and change segments" ON shared.segment TO service_role USING (true) WITH CHECK (true);


--
-- Name: audience_sync_run The service role can read audience sync runs; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read audience sync runs" ON shared.audience_sync_run TO service_role USING (true) WITH CHECK (true);


--
-- Name: performance_campaign_daily The service role can read campaign performance; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read campaign performance" ON shared.performance_campaign_daily TO service_role USING (true) WITH CHECK (true);


--
-- Name: dashboard_key The service role can read dashboard keys; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read dashboard keys" ON shared.dashboard_key TO service_role USING (true) WITH CHECK (true);


--
-- Name: audience_erased The service role can read erased people awaiting removal; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read erased people awaiting removal" ON shared.audience_erased TO service_role USING (true) WITH CHECK (true);


--
-- Name: feature_trigger_fired The service role can read fired first-time rules; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read fired first-time rules" ON shared.feature_trigger_fired TO service_role USING (true) WITH CHECK (true);


--
-- Name: insights_pull The service role can read insights pulls; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read insights pulls" ON shared.insights_pull TO service_role USING (true) WITH CHECK (true);


--
-- Name: person_feature The service role can read person features; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read person features" ON shared.person_feature TO service_role USING (true) WITH CHECK (true);


--
-- Name: person_activity_recent The service role can read recent daily person activity; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read recent daily person activity" ON shared.person_activity_recent TO service_role USING (true) WITH CHECK (true);


--
-- Name: performance_restatement The service role can read restatements; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read restatements" ON shared.performance_restatement TO service_role USING (true) WITH CHECK (true);


--
-- Name: segment_history The service role can read segment history; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read segment history" ON shared.segment_history TO service_role USING (true) WITH CHECK (true);


--
-- Name: segment_member The service role can read segment members; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read segment members" ON shared.segment_member TO service_role USING (true) WITH CHECK (true);


--
-- Name: segment_run The service role can read segment runs; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read segment runs" ON shared.segment_run TO service_role USING (true) WITH CHECK (true);


--
-- Name: person_activity_settled The service role can read settled daily person activity; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read settled daily person activity" ON shared.person_activity_settled TO service_role USING (true) WITH CHECK (true);


--
-- Name: audience_replace_row The service role can read staged replace rows; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read staged replace rows" ON shared.audience_replace_row TO service_role USING (true) WITH CHECK (true);


--
-- Name: segment_change_log The service role can read the segment change log; Type: POLICY; Schema: shared; Owner: -
--

CREATE POLICY "The service role can read the segment change log" ON shared.segment_change_log TO service_role USING (true) WITH CHECK (true);


--
-- Name: attribution_events; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.attribution_events ENABLE ROW LEVEL SECURITY;

--
-- Name: audience_ack; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.audience_ack ENABLE ROW LEVEL SECURITY;

--
-- Name: audience_erased; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.audience_erased ENABLE ROW LEVEL SECURITY;

--
-- Name: audience_removal_allowance; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.audience_removal_allowance ENABLE ROW LEVEL SECURITY;

--
-- Name: audience_replace_row; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.audience_replace_row ENABLE ROW LEVEL SECURITY;

--
-- Name: audience_sync_run; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.audience_sync_run ENABLE ROW LEVEL SECURITY;

--
-- Name: campaign_project; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.campaign_project ENABLE ROW LEVEL SECURITY;

--
-- Name: capi_dead_letter; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.capi_dead_letter ENABLE ROW LEVEL SECURITY;

--
-- Name: capi_pixel_state; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.capi_pixel_state ENABLE ROW LEVEL SECURITY;

--
-- Name: consent_log; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.consent_log ENABLE ROW LEVEL SECURITY;

--
-- Name: conversion_family; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.conversion_family ENABLE ROW LEVEL SECURITY;

--
-- Name: conversion_rule; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.conversion_rule ENABLE ROW LEVEL SECURITY;

--
-- Name: dashboard_key; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.dashboard_key ENABLE ROW LEVEL SECURITY;

--
-- Name: deploy_checklist_item; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.deploy_checklist_item ENABLE ROW LEVEL SECURITY;

--
-- Name: erasure; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.erasure ENABLE ROW LEVEL SECURITY;

--
-- Name: event; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.event ENABLE ROW LEVEL SECURITY;

--
-- Name: feature_event_kind; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.feature_event_kind ENABLE ROW LEVEL SECURITY;

--
-- Name: feature_flag; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.feature_flag ENABLE ROW LEVEL SECURITY;

--
-- Name: feature_flag_checklist; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.feature_flag_checklist ENABLE ROW LEVEL SECURITY;

--
-- Name: feature_flag_prerequisite; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.feature_flag_prerequisite ENABLE ROW LEVEL SECURITY;

--
-- Name: feature_trigger_fired; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.feature_trigger_fired ENABLE ROW LEVEL SECURITY;

--
-- Name: gate_audit; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.gate_audit ENABLE ROW LEVEL SECURITY;

--
-- Name: identity_link; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.identity_link ENABLE ROW LEVEL SECURITY;

--
-- Name: insights_conversion_action; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.insights_conversion_action ENABLE ROW LEVEL SECURITY;

--
-- Name: insights_pull; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.insights_pull ENABLE ROW LEVEL SECURITY;

--
-- Name: lead_field_map; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.lead_field_map ENABLE ROW LEVEL SECURITY;

--
-- Name: meta_audience; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.meta_audience ENABLE ROW LEVEL SECURITY;

--
-- Name: meta_lead; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.meta_lead ENABLE ROW LEVEL SECURITY;

--
-- Name: performance_campaign_daily; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.performance_campaign_daily ENABLE ROW LEVEL SECURITY;

--
-- Name: performance_daily; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.performance_daily ENABLE ROW LEVEL SECURITY;

--
-- Name: performance_restatement; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.performance_restatement ENABLE ROW LEVEL SECURITY;

--
-- Name: person; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.person ENABLE ROW LEVEL SECURITY;

--
-- Name: person_activity_recent; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.person_activity_recent ENABLE ROW LEVEL SECURITY;

--
-- Name: person_activity_settled; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.person_activity_settled ENABLE ROW LEVEL SECURITY;

--
-- Name: person_feature; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.person_feature ENABLE ROW LEVEL SECURITY;

--
-- Name: product; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.product ENABLE ROW LEVEL SECURITY;

--
-- Name: product_credential; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.product_credential ENABLE ROW LEVEL SECURITY;

--
-- Name: product_event; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.product_event ENABLE ROW LEVEL SECURITY;

--
-- Name: segment; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.segment ENABLE ROW LEVEL SECURITY;

--
-- Name: segment_change_log; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.segment_change_log ENABLE ROW LEVEL SECURITY;

--
-- Name: segment_history; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.segment_history ENABLE ROW LEVEL SECURITY;

--
-- Name: segment_member; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.segment_member ENABLE ROW LEVEL SECURITY;

--
-- Name: segment_run; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.segment_run ENABLE ROW LEVEL SECURITY;

--
-- Name: service_key; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.service_key ENABLE ROW LEVEL SECURITY;

--
-- Name: setting; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.setting ENABLE ROW LEVEL SECURITY;

--
-- Name: setting_definition; Type: ROW SECURITY; Schema: shared; Owner: -
--

ALTER TABLE shared.setting_definition ENABLE ROW LEVEL SECURITY;

--
-- PostgreSQL database dump complete
--

\unrestrict dbmate


--
-- Dbmate schema migrations
--

INSERT INTO gdp_migrations.schema_migrations (version) VALUES
    ('20261128000001'),
    ('20261128000002'),
    ('20261128000003'),
    ('20261128000004'),
    ('20261128000005'),
    ('20261128000006'),
    ('20261201100001'),
    ('20261201100002'),
    ('20261201120001'),
    ('20261201120002'),
    ('20261201120003'),
    ('20261201120004'),
    ('20261201120005'),
    ('20261201500001'),
    ('20261201500002'),
    ('20261201500003'),
    ('20261201500004'),
    ('20261202000001'),
    ('20261202000002'),
    ('20261202000003'),
    ('20261202100001'),
    ('20261202100002'),
    ('20261202100003'),
    ('20261202100004'),
    ('20261202100005'),
    ('20261202200001'),
    ('20261202200002'),
    ('20261202300001'),
    ('20261202300002'),
    ('20261202300003'),
    ('20261202400001'),
    ('20261202400002'),
    ('20261202400003'),
    ('20261202400004'),
    ('20261202400005'),
    ('20261202400011'),
    ('20261202400012'),
    ('20261202400013'),
    ('20261202400014'),
    ('20261202400015'),
    ('20261202400016'),
    ('20261202400017'),
    ('20261202400018'),
    ('20261202400019'),
    ('20261202400020'),
    ('20261202400021'),
    ('20261202400022'),
    ('20261203100001'),
    ('20261203100002'),
    ('20261203200001'),
    ('20261203200002'),
    ('20261203200003'),
    ('20261203200004'),
    ('20261203200005'),
    ('20261203200006'),
    ('20261203200007'),
    ('20261204000001'),
    ('20261204000002'),
    ('20261204000003');
