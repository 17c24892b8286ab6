"""What a release says for changes the repository has not made yet (no database needed): a
function whose result changes, a view that loses a column, privileges, odd names."""

from __future__ import annotations

from dataclasses import replace

from workers.db import ddl
from workers.db.catalog import Function, Policy, Snapshot, Trigger, View
from workers.db.release_render import render


def _function(name: str, result: str = "integer", body: str = "SELECT 1") -> Function:
    return Function(
        name=name,
        arg_types="jsonb",
        kind="f",
        definition=f"CREATE OR REPLACE FUNCTION {name}(p jsonb)\n RETURNS {result}\n LANGUAGE sql\n"
        f"AS $function$ {body} $function$\n",
        result=result,
        input_names=("p",),
        n_defaults=0,
        agg_sfunc=None,
        agg_stype=None,
        agg_initcond=None,
        agg_finalfunc=None,
        agg_combinefunc=None,
        agg_unsupported=False,
        parallel="u",
    )


def test_a_function_whose_result_changes_is_dropped_and_created_with_its_policy() -> None:
    old_fn = _function("shared.allowed")
    new_fn = _function("shared.allowed", result="boolean", body="SELECT true")
    policy = Policy(
        "shared.event",
        "Products read their own",
        "r",
        True,
        ("gdp_product",),
        "shared.allowed('{}'::jsonb)",
        None,
    )
    old = Snapshot(functions={old_fn.key: old_fn}, policies={policy.key: policy})
    new = Snapshot(functions={new_fn.key: new_fn}, policies={policy.key: policy})
    statements = render(old, new)
    drop_policy = next(i for i, s in enumerate(statements) if "DROP POLICY" in s)
    drop_function = statements.index("DROP FUNCTION IF EXISTS shared.allowed(jsonb)")
    create_function = next(i for i, s in enumerate(statements) if "RETURNS boolean" in s)
    create_policy = next(i for i, s in enumerate(statements) if "CREATE POLICY" in s)
    assert drop_policy < drop_function < create_function < create_policy


def test_a_function_whose_body_changes_is_replaced_in_place() -> None:
    old_fn, new_fn = _function("shared.f"), _function("shared.f", body="SELECT 2")
    statements = render(
        Snapshot(functions={old_fn.key: old_fn}), Snapshot(functions={new_fn.key: new_fn})
    )
    assert statements == [new_fn.definition.rstrip()]


def test_a_view_that_loses_a_column_is_dropped_first_with_the_views_on_top_of_it() -> None:
    base_old = View("shared.base", " SELECT 1 AS a, 2 AS b;", (), ("a integer", "b integer"))
    base_new = View("shared.base", " SELECT 1 AS a;", (), ("a integer",))
    top = View(
        "shared.top", " SELECT a FROM shared.base;", ("security_invoker=true",), ("a integer",)
    )
    deps = {top.key: {base_old.key}}
    old = Snapshot(views={base_old.key: base_old, top.key: top}, dependencies=deps)
    new = Snapshot(views={base_new.key: base_new, top.key: top}, dependencies=deps)
    statements = render(old, new)
    assert statements[:2] == ["DROP VIEW IF EXISTS shared.top", "DROP VIEW IF EXISTS shared.base"]
    assert statements[2].startswith("CREATE OR REPLACE VIEW shared.base AS")
    assert statements[3].startswith(
        "CREATE OR REPLACE VIEW shared.top WITH (security_invoker=true)"
    )


def test_privileges_change_exactly_and_new_objects_start_from_nothing() -> None:
    target = ("TABLE", "shared.event", None)
    old = frozenset({("gdp_api", "SELECT", False), ("gdp_admin", "DELETE", True)})
    new = frozenset({("gdp_api", "SELECT", True), ("gdp_api", "INSERT", False)})
    assert ddl.privileges(target, old, new) == [
        "REVOKE DELETE ON TABLE shared.event FROM gdp_admin",
        "GRANT INSERT ON TABLE shared.event TO gdp_api",
        "GRANT SELECT ON TABLE shared.event TO gdp_api WITH GRANT OPTION",
    ]
    assert ddl.privileges(target, new, old)[0] == (
        "REVOKE INSERT ON TABLE shared.event FROM gdp_api"
    )
    assert "REVOKE GRANT OPTION FOR SELECT ON TABLE shared.event FROM gdp_api" in ddl.privileges(
        target, new, old
    )
    assert ddl.privileges(("FUNCTION", "shared.f(jsonb)", None), None, frozenset()) == [
        "REVOKE ALL ON FUNCTION shared.f(jsonb) FROM PUBLIC, anon, authenticated, service_role"
    ]


def test_names_and_texts_are_quoted() -> None:
    assert ddl.quote_ident('Say "hi"') == '"Say ""hi"""'
    assert ddl.literal("it's") == "'it''s'"
    assert ddl.literal("a\\b") == "E'a\\\\b'"
    assert ddl.literal(None) == "NULL"
    trigger = Trigger("shared.event", 'odd "name"', 'CREATE TRIGGER "odd ""name""" ...', "O", False)
    assert 'DROP TRIGGER "odd ""name""" ON shared.event' in ddl.drop_trigger(trigger)


def test_removed_objects_are_dropped_after_what_uses_them() -> None:
    fn = _function("shared.gone")
    trigger = Trigger("shared.event", "uses_gone", "CREATE TRIGGER uses_gone ...", "O", False)
    statements = render(
        Snapshot(functions={fn.key: fn}, triggers={trigger.key: trigger}), Snapshot()
    )
    assert "DROP TRIGGER" in statements[0]
    assert statements[-1] == "DROP FUNCTION IF EXISTS shared.gone(jsonb)"


def test_an_unchanged_catalog_needs_no_statement() -> None:
    fn = _function("shared.same")
    snap = Snapshot(functions={fn.key: fn})
    assert render(snap, replace(snap)) == []


def test_default_privileges_keep_their_role_and_the_migrating_roles_go_without() -> None:
    old = Snapshot(default_privileges=frozenset({("", "shared", "f", "PUBLIC", "EXECUTE", False)}))
    new = Snapshot(
        default_privileges=frozenset(
            {("gdp_admin", "segments", "r", "gdp_segment_worker", "SELECT", False)}
        )
    )
    assert ddl.default_privileges(old, new) == [
        "ALTER DEFAULT PRIVILEGES IN SCHEMA shared REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
        "ALTER DEFAULT PRIVILEGES FOR ROLE gdp_admin IN SCHEMA segments GRANT SELECT ON TABLES "
        "TO gdp_segment_worker",
    ]
