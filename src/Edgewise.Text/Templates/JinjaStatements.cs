using System.Text;

namespace Edgewise.Text.Templates;

internal enum Flow
{
    Normal,
    Break,
    Continue,
}

/// <summary>A statement node; <see cref="Exec"/> appends output and reports loop control.</summary>
internal abstract class Stmt(int line, int column)
{
    public int Line { get; } = line;

    public int Column { get; } = column;

    public abstract Flow Exec(RenderContext ctx, StringBuilder output);

    public static Flow ExecAll(List<Stmt> body, RenderContext ctx, StringBuilder output)
    {
        foreach (var stmt in body)
        {
            var flow = stmt.Exec(ctx, output);
            if (flow != Flow.Normal) return flow;
        }

        return Flow.Normal;
    }
}

internal sealed class TextStmt(string text, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(RenderContext ctx, StringBuilder output)
    {
        output.Append(text);
        return Flow.Normal;
    }
}

internal sealed class PrintStmt(Expr expr, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(RenderContext ctx, StringBuilder output)
    {
        output.Append(JinjaValues.ToPythonString(expr.Eval(ctx)));
        return Flow.Normal;
    }
}

internal sealed class IfStmt(List<(Expr Condition, List<Stmt> Body)> branches, List<Stmt>? elseBody, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(RenderContext ctx, StringBuilder output)
    {
        foreach (var (condition, body) in branches)
        {
            if (JinjaValues.IsTruthy(condition.Eval(ctx))) return ExecAll(body, ctx, output);
        }

        return elseBody is null ? Flow.Normal : ExecAll(elseBody, ctx, output);
    }
}

/// <summary><c>{% for a[, b] in items [if cond] %}...{% else %}...{% endfor %}</c> with the <c>loop</c> variable.</summary>
internal sealed class ForStmt(List<string> targets, Expr iterable, Expr? filter, List<Stmt> body, List<Stmt>? elseBody, int line, int column)
    : Stmt(line, column)
{
    public override Flow Exec(RenderContext ctx, StringBuilder output)
    {
        var source = iterable.Eval(ctx);
        List<object?> items;
        try
        {
            items = JinjaBuiltins.Iterate(source);
        }
        catch (TemplateException e)
        {
            throw new TemplateException($"for loop: {e.Reason}", Line, Column);
        }

        if (filter is not null)
        {
            // The inline filter sees each item in its own scope; loop.length counts the survivors (Jinja2 semantics).
            var kept = new List<object?>(items.Count);
            foreach (var item in items)
            {
                ctx.PushScope();
                Bind(ctx, item);
                if (JinjaValues.IsTruthy(filter.Eval(ctx))) kept.Add(item);
                ctx.PopScope();
            }

            items = kept;
        }

        if (items.Count == 0)
        {
            return elseBody is null ? Flow.Normal : ExecAll(elseBody, ctx, output);
        }

        for (var i = 0; i < items.Count; i++)
        {
            ctx.PushScope();
            try
            {
                ctx.Define("loop", new LoopInfo(items, i));
                Bind(ctx, items[i]);
                if (ExecAll(body, ctx, output) == Flow.Break) break;
            }
            finally
            {
                ctx.PopScope();
            }
        }

        return Flow.Normal;
    }

    private void Bind(RenderContext ctx, object? item)
    {
        if (targets.Count == 1)
        {
            ctx.Define(targets[0], item);
            return;
        }

        if (item is not List<object?> tuple || tuple.Count != targets.Count)
        {
            throw new TemplateException($"for loop: cannot unpack {JinjaValues.TypeName(item)} into {targets.Count} names", Line, Column);
        }

        for (var t = 0; t < targets.Count; t++) ctx.Define(targets[t], tuple[t]);
    }
}

/// <summary>The <c>loop</c> object of a for loop.</summary>
internal sealed class LoopInfo(List<object?> items, int index)
{
    public object? Get(string name) => name switch
    {
        "index" => (long)index + 1,
        "index0" => (long)index,
        "revindex" => (long)(items.Count - index),
        "revindex0" => (long)(items.Count - index - 1),
        "first" => index == 0,
        "last" => index == items.Count - 1,
        "length" => (long)items.Count,
        "previtem" => index > 0 ? items[index - 1] : new JinjaUndefined("loop.previtem"),
        "nextitem" => index < items.Count - 1 ? items[index + 1] : new JinjaUndefined("loop.nextitem"),
        "cycle" => new JinjaCallable("loop.cycle", args => args.Positional.Count == 0
            ? throw new TemplateException("loop.cycle needs at least one value")
            : args.Positional[index % args.Positional.Count]),
        _ => throw new TemplateException($"loop has no attribute '{name}'"),
    };
}

internal sealed class SetStmt(string name, string? attribute, Expr value, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(RenderContext ctx, StringBuilder output)
    {
        var v = value.Eval(ctx);
        if (attribute is null)
        {
            ctx.Define(name, v);
            return Flow.Normal;
        }

        if (ctx.Lookup(name) is not JinjaNamespace ns)
        {
            throw new TemplateException($"cannot assign attribute '{attribute}' on '{name}': it is not a namespace()", Line, Column);
        }

        ns.Attributes[attribute] = v;
        return Flow.Normal;
    }
}

/// <summary><c>{% set name %}...{% endset %}</c>: captures the rendered body as a string.</summary>
internal sealed class SetBlockStmt(string name, List<Stmt> body, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(RenderContext ctx, StringBuilder output)
    {
        var captured = new StringBuilder();
        ExecAll(body, ctx, captured);
        ctx.Define(name, captured.ToString());
        return Flow.Normal;
    }
}

internal sealed class LoopControlStmt(bool isBreak, int line, int column) : Stmt(line, column)
{
    public override Flow Exec(RenderContext ctx, StringBuilder output) => isBreak ? Flow.Break : Flow.Continue;
}

internal sealed class MacroStmt(string name, List<(string Name, Expr? Default)> parameters, List<Stmt> body, int line, int column) : Stmt(line, column)
{
    public string Name { get; } = name;

    public List<(string Name, Expr? Default)> Parameters { get; } = parameters;

    public List<Stmt> Body { get; } = body;

    public override Flow Exec(RenderContext ctx, StringBuilder output)
    {
        ctx.Define(Name, new JinjaMacro(this, ctx.CurrentScope));
        return Flow.Normal;
    }
}

/// <summary>A defined macro: a closure over the scope it was defined in, called with positional and keyword args.</summary>
internal sealed class JinjaMacro(MacroStmt definition, Scope closure)
{
    public string Name => definition.Name;

    public object? Invoke(RenderContext ctx, CallArgs args)
    {
        var parameters = definition.Parameters;
        if (args.Positional.Count > parameters.Count)
        {
            throw new TemplateException($"macro '{Name}' takes at most {parameters.Count} arguments ({args.Positional.Count} given)");
        }

        var saved = ctx.EnterMacro(closure, Name);
        try
        {
            for (var i = 0; i < parameters.Count; i++)
            {
                var (paramName, defaultExpr) = parameters[i];
                object? value = new JinjaUndefined(paramName);
                if (i < args.Positional.Count) value = args.Positional[i];
                else if (defaultExpr is not null) value = defaultExpr.Eval(ctx);
                ctx.Define(paramName, value);
            }

            foreach (var (key, value) in args.Named)
            {
                var known = false;
                for (var i = 0; i < parameters.Count; i++)
                {
                    if (parameters[i].Name != key) continue;
                    if (i < args.Positional.Count) throw new TemplateException($"macro '{Name}' got multiple values for argument '{key}'");
                    known = true;
                }

                if (!known) throw new TemplateException($"macro '{Name}' has no parameter named '{key}'");
                ctx.Define(key, value);
            }

            var output = new StringBuilder();
            Stmt.ExecAll(definition.Body, ctx, output);
            return output.ToString();
        }
        finally
        {
            ctx.LeaveMacro(saved);
        }
    }
}

internal sealed class Scope(Scope? parent)
{
    public Scope? Parent { get; } = parent;

    public Dictionary<string, object?> Variables { get; } = new(StringComparer.Ordinal);
}

/// <summary>Variable scopes of one render: globals, template root, then one scope per loop iteration or macro call.</summary>
internal sealed class RenderContext
{
    private const int MaxMacroDepth = 200;
    private int _macroDepth;

    public RenderContext(Scope globals)
    {
        CurrentScope = new Scope(globals);
    }

    public Scope CurrentScope { get; private set; }

    public void PushScope() => CurrentScope = new Scope(CurrentScope);

    public void PopScope() => CurrentScope = CurrentScope.Parent ?? throw new InvalidOperationException("scope underflow");

    public void Define(string name, object? value) => CurrentScope.Variables[name] = value;

    public object? Lookup(string name)
    {
        for (var scope = CurrentScope; scope is not null; scope = scope.Parent)
        {
            if (scope.Variables.TryGetValue(name, out var value)) return value;
        }

        return new JinjaUndefined(name);
    }

    public Scope EnterMacro(Scope closure, string name)
    {
        if (++_macroDepth > MaxMacroDepth) throw new TemplateException($"macro '{name}' recursed deeper than {MaxMacroDepth} calls");
        var saved = CurrentScope;
        CurrentScope = new Scope(closure);
        return saved;
    }

    public void LeaveMacro(Scope saved)
    {
        _macroDepth--;
        CurrentScope = saved;
    }
}
