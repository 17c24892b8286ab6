"""The order of a release's statements (`gdp db release`); workers/db/ddl.py writes each one.

1. views that must be dropped to change their columns (dependents first);
2. new and changed functions and views, each after what it needs (catalog dependencies);
3. their privileges;
4. per table, the statements that lock it: removed triggers and policies dropped, functions
   whose signature changed dropped and created again (with their triggers and policies),
   triggers and policies created or changed, row security switched;
5. removed views and functions dropped; comments; default privileges.
"""

from __future__ import annotations

from collections.abc import Iterable

from workers.db import ddl
from workers.db.catalog import Function, Snapshot


def _topological(keys: Iterable[str], dependencies: dict[str, set[str]]) -> list[str]:
    """Keys ordered so that each comes after the keys it needs (among `keys`); stable by name."""
    wanted = set(keys)
    ordered: list[str] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if key in placed or key in visiting:
            return
        visiting.add(key)
        for needed in sorted(dependencies.get(key, ())):
            if needed in wanted:
                visit(needed)
        visiting.discard(key)
        placed.add(key)
        ordered.append(key)

    for key in sorted(wanted):
        visit(key)
    return ordered


def _dependents(roots: set[str], dependencies: dict[str, set[str]]) -> set[str]:
    """Every key that needs one of `roots`, directly or not."""
    found = set(roots)
    changed = True
    while changed:
        changed = False
        for key, needs in dependencies.items():
            if key not in found and needs & found:
                found.add(key)
                changed = True
    return found


def _mentions(text: str | None, function: Function) -> bool:
    return text is not None and function.name in text


def render(old: Snapshot, new: Snapshot) -> list[str]:
    out: list[str] = []

    # 1-2. Functions and views.
    changed_functions = {k for k, f in new.functions.items() if old.functions.get(k) != f}
    recreated_functions = {
        k
        for k in changed_functions
        if k in old.functions and ddl.function_needs_drop(old.functions[k], new.functions[k])
    }
    changed_views = {k for k, v in new.views.items() if old.views.get(k) != v}
    view_drops = {
        k
        for k in changed_views
        if k in old.views and ddl.view_needs_drop(old.views[k], new.views[k])
    }
    view_drops = {k for k in _dependents(view_drops, old.dependencies) if k in old.views}
    changed_views |= {k for k in view_drops if k in new.views}
    for key in reversed(_topological(view_drops, old.dependencies)):
        out.append(ddl.drop_view(old.views[key]))
    created = (changed_functions - recreated_functions) | changed_views
    for key in _topological(created, new.dependencies):
        if key.startswith("F:"):
            out.append(ddl.create_function(new.functions[key]))
        else:
            out.append(ddl.create_view(new.views[key]))

    # 3. Privileges of everything that stays.
    fresh = {k.removeprefix("F:") for k in (changed_functions - old.functions.keys())}
    fresh |= {k.removeprefix("V:") for k in (changed_views - old.views.keys()) | view_drops}
    late_privileges: list[str] = []
    recreated_signatures = {new.functions[k].signature for k in recreated_functions}
    for target, grants in sorted(new.privileges.items(), key=lambda item: str(item[0])):
        kind, name, _column = target
        before = (
            None if name in fresh or name in recreated_signatures else old.privileges.get(target)
        )
        if before == grants:
            continue
        statements = ddl.privileges(target, before, grants)
        (late_privileges if name in recreated_signatures else out).extend(statements)

    # 4. Statements that lock a table, grouped per table.
    late: list[str] = []
    forced_triggers: set[tuple[str, str]] = set()
    forced_policies: set[tuple[str, str]] = set()
    for key in sorted(recreated_functions):
        replaced, replacement = old.functions[key], new.functions[key]
        for tkey, trigger in old.triggers.items():
            if _mentions(trigger.definition, replaced):
                late.append(ddl.drop_trigger(trigger))
                forced_triggers.add(tkey)
        for pkey, policy in old.policies.items():
            if _mentions(policy.using_expr, replaced) or _mentions(policy.check_expr, replaced):
                late.append(ddl.drop_policy(policy))
                forced_policies.add(pkey)
        late.append(ddl.drop_function(replaced))
        late.append(ddl.create_function(replacement))
    late.extend(late_privileges)
    tables = sorted(
        {t for t, _ in old.triggers}
        | {t for t, _ in new.triggers}
        | {t for t, _ in old.policies}
        | {t for t, _ in new.policies}
        | set(old.row_security)
        | set(new.row_security)
    )
    for table in tables:
        for tkey, trigger in sorted(old.triggers.items()):
            if tkey[0] == table and tkey not in new.triggers:
                late.append(ddl.drop_trigger(trigger))
        for pkey, policy in sorted(old.policies.items()):
            if pkey[0] == table and pkey not in new.policies:
                late.append(ddl.drop_policy(policy))
        for tkey, trigger in sorted(new.triggers.items()):
            if tkey[0] == table and (old.triggers.get(tkey) != trigger or tkey in forced_triggers):
                late.append(ddl.replace_trigger(trigger))
        for pkey, policy in sorted(new.policies.items()):
            if pkey[0] == table and (old.policies.get(pkey) != policy or pkey in forced_policies):
                late.append(ddl.replace_policy(policy, old.policies.get(pkey)))
        if table in new.row_security and old.row_security.get(table) != new.row_security[table]:
            late.extend(
                ddl.row_security(table, old.row_security.get(table), new.row_security[table])
            )
    out.extend(late)

    # 5. Removals, comments, default privileges.
    removed_views = [k for k in old.views if k not in new.views and k not in view_drops]
    for key in reversed(_topological(removed_views, old.dependencies)):
        out.append(ddl.drop_view(old.views[key]))
    removed_functions = [k for k in old.functions if k not in new.functions]
    for key in reversed(_topological(removed_functions, old.dependencies)):
        out.append(ddl.drop_function(old.functions[key]))
    recreated = {new.functions[k].signature for k in recreated_functions}
    recreated |= {k.removeprefix("V:") for k in view_drops}
    for (kind, described), text in sorted(new.comments.items()):
        if old.comments.get((kind, described)) != text or described in recreated:
            out.append(ddl.comment(kind, described, text))
    live = {f.signature for f in new.functions.values()} | {v.name for v in new.views.values()}
    for (kind, described), _text in sorted(old.comments.items()):
        if (kind, described) in new.comments or kind in ("TRIGGER", "POLICY"):
            continue
        if kind in ("FUNCTION", "PROCEDURE", "AGGREGATE", "VIEW") and described not in live:
            continue
        out.append(ddl.comment(kind, described, None))
    out.extend(ddl.default_privileges(old, new))
    return out
