using System.Text;

namespace Edgewise.Text.Templates;

/// <summary>An expression node; evaluation follows Python/Jinja2 semantics.</summary>
internal abstract class Expr(int line, int column)
{
    public int Line { get; } = line;

    public int Column { get; } = column;

    public abstract object? Eval(RenderContext ctx);

    /// <summary>Re-throws an error from a built-in with this node's position attached.</summary>
    protected TemplateException Locate(TemplateException e) => e.Line > 0
        ? e
        : e is TemplateRaisedException ? new TemplateRaisedException(e.Reason, Line, Column) : new TemplateException(e.Reason, Line, Column);
}

internal sealed class LiteralExpr(object? value, int line, int column) : Expr(line, column)
{
    public object? Value { get; } = value;

    public override object? Eval(RenderContext ctx) => Value;
}

internal sealed class ListExpr(List<Expr> items, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var list = new List<object?>(items.Count);
        foreach (var item in items) list.Add(item.Eval(ctx));
        return list;
    }
}

internal sealed class DictExpr(List<(Expr Key, Expr Value)> entries, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var dict = new JinjaDict();
        foreach (var (keyExpr, valueExpr) in entries)
        {
            if (keyExpr.Eval(ctx) is not string key) throw new TemplateException("dict literal keys must be strings", keyExpr.Line, keyExpr.Column);
            dict[key] = valueExpr.Eval(ctx);
        }

        return dict;
    }
}

internal sealed class NameExpr(string name, int line, int column) : Expr(line, column)
{
    public string Name { get; } = name;

    public override object? Eval(RenderContext ctx) => ctx.Lookup(Name);
}

/// <summary><c>obj.name</c>: attribute first (methods), then item, as Jinja2's <c>getattr</c>.</summary>
internal sealed class AttributeExpr(Expr target, string name, int line, int column) : Expr(line, column)
{
    public Expr Target { get; } = target;

    public string Name { get; } = name;

    public override object? Eval(RenderContext ctx)
    {
        var obj = Target.Eval(ctx);
        try
        {
            return JinjaBuiltins.GetAttribute(obj, Name);
        }
        catch (TemplateException e)
        {
            throw Locate(e);
        }
    }
}

/// <summary><c>obj[key]</c>: item first, then attribute, as Jinja2's <c>getitem</c>.</summary>
internal sealed class ItemExpr(Expr target, Expr key, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var obj = target.Eval(ctx);
        var k = key.Eval(ctx);
        try
        {
            return JinjaBuiltins.GetItem(obj, k);
        }
        catch (TemplateException e)
        {
            throw Locate(e);
        }
    }
}

internal sealed class SliceExpr(Expr target, Expr? start, Expr? stop, Expr? step, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var obj = target.Eval(ctx);
        try
        {
            return JinjaBuiltins.Slice(obj, start?.Eval(ctx), stop?.Eval(ctx), step?.Eval(ctx));
        }
        catch (TemplateException e)
        {
            throw Locate(e);
        }
    }
}

internal sealed class CallExpr(Expr callee, List<Expr> positional, List<(string Name, Expr Value)> named, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var fn = callee.Eval(ctx);
        var args = new CallArgs();
        foreach (var p in positional) args.Positional.Add(p.Eval(ctx));
        foreach (var (name, value) in named) args.Named.Add(new(name, value.Eval(ctx)));
        try
        {
            return fn switch
            {
                JinjaMacro macro => macro.Invoke(ctx, args),
                JinjaCallable callable => callable.Invoke(args),
                JinjaUndefined u => throw new TemplateException($"'{u.Name}' is undefined and cannot be called"),
                _ => throw new TemplateException($"{JinjaValues.TypeName(fn)} object is not callable"),
            };
        }
        catch (TemplateException e)
        {
            throw Locate(e);
        }
    }
}

internal sealed class FilterExpr(Expr target, string name, List<Expr> positional, List<(string Name, Expr Value)> named, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var value = target.Eval(ctx);
        var args = new CallArgs();
        foreach (var p in positional) args.Positional.Add(p.Eval(ctx));
        foreach (var (argName, argValue) in named) args.Named.Add(new(argName, argValue.Eval(ctx)));
        try
        {
            return JinjaBuiltins.ApplyFilter(ctx, name, value, args);
        }
        catch (TemplateException e)
        {
            throw Locate(e);
        }
    }
}

internal sealed class TestExpr(Expr target, string name, List<Expr> args, bool negated, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var value = target.Eval(ctx);
        var values = new List<object?>(args.Count);
        foreach (var a in args) values.Add(a.Eval(ctx));
        try
        {
            return JinjaBuiltins.ApplyTest(name, value, values) != negated;
        }
        catch (TemplateException e)
        {
            throw Locate(e);
        }
    }
}

internal sealed class NotExpr(Expr operand, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx) => !JinjaValues.IsTruthy(operand.Eval(ctx));
}

internal sealed class NegateExpr(Expr operand, bool minus, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var v = operand.Eval(ctx);
        return v switch
        {
            // Arms are boxed separately so a long stays a long (a switch would unify them to double).
            long l => (object)(minus ? -l : l),
            double d => (object)(minus ? -d : d),
            bool b => (object)(minus ? -(b ? 1L : 0L) : (b ? 1L : 0L)),
            _ => throw new TemplateException($"bad operand type for unary {(minus ? '-' : '+')}: {JinjaValues.TypeName(v)}", Line, Column),
        };
    }
}

/// <summary><c>and</c>/<c>or</c> return one of their operands, as in Python.</summary>
internal sealed class LogicalExpr(Expr left, Expr right, bool isAnd, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var l = left.Eval(ctx);
        var truthy = JinjaValues.IsTruthy(l);
        if (isAnd ? !truthy : truthy) return l;
        return right.Eval(ctx);
    }
}

internal sealed class ConditionalExpr(Expr condition, Expr whenTrue, Expr? whenFalse, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx) => JinjaValues.IsTruthy(condition.Eval(ctx))
        ? whenTrue.Eval(ctx)
        : whenFalse is null ? new JinjaUndefined("else branch") : whenFalse.Eval(ctx);
}

/// <summary>A Python comparison chain: <c>a &lt; b &lt;= c</c>, <c>x in y</c>, <c>x not in y</c>.</summary>
internal sealed class CompareExpr(Expr first, List<(string Op, Expr Operand)> rest, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext ctx)
    {
        var left = first.Eval(ctx);
        foreach (var (op, operandExpr) in rest)
        {
            var right = operandExpr.Eval(ctx);
            bool result;
            try
            {
                result = op switch
                {
                    "==" => JinjaValues.PyEquals(left, right),
                    "!=" => !JinjaValues.PyEquals(left, right),
                    "<" => JinjaValues.PyCompare(left, right) < 0,
                    "<=" => JinjaValues.PyCompare(left, right) <= 0,
                    ">" => JinjaValues.PyCompare(left, right) > 0,
                    ">=" => JinjaValues.PyCompare(left, right) >= 0,
                    "in" => JinjaBuiltins.Contains(right, left),
                    "not in" => !JinjaBuiltins.Contains(right, left),
                    _ => throw new TemplateException($"unknown comparison '{op}'"),
                };
            }
            catch (TemplateException e)
            {
                throw Locate(e);
            }

            if (!result) return false;
            left = right;
        }

        return true;
    }
}

internal sealed class BinaryExpr(string op, Expr left, Expr right, int line, int column) : Expr(line, column)
{
    private const long MaxRepeatLength = 1 << 24;

    public override object? Eval(RenderContext ctx)
    {
        var l = left.Eval(ctx);
        var r = right.Eval(ctx);
        try
        {
            return op == "~" ? JinjaValues.ToPythonString(l) + JinjaValues.ToPythonString(r) : Arithmetic(op, l, r);
        }
        catch (TemplateException e)
        {
            throw Locate(e);
        }
    }

    private static object? Arithmetic(string op, object? l, object? r)
    {
        if (op == "+")
        {
            if (l is string ls && r is string rs) return ls + rs;
            if (l is List<object?> ll && r is List<object?> rl) return new List<object?>(ll.Concat(rl));
        }

        if (op == "*" && l is string repeated && r is long times)
        {
            // A template has no business building megabytes of text; refuse instead of exhausting memory.
            if (times > 0 && times > MaxRepeatLength / Math.Max(1, repeated.Length)) throw new TemplateException($"string repetition longer than {MaxRepeatLength} characters");
            return new StringBuilder().Insert(0, repeated, (int)Math.Max(0, times)).ToString();
        }

        if (op == "%" && l is string format) throw new TemplateException("printf-style '%' string formatting is not supported");
        if (!JinjaValues.IsNumber(l) || !JinjaValues.IsNumber(r))
        {
            throw new TemplateException($"unsupported operand types for {op}: {JinjaValues.TypeName(l)} and {JinjaValues.TypeName(r)}");
        }

        if (l is not double && r is not double && op != "/")
        {
            try
            {
                return IntegerArithmetic(op, l, r);
            }
            catch (OverflowException)
            {
                throw new TemplateException($"integer overflow in {JinjaValues.Repr(l)} {op} {JinjaValues.Repr(r)}");
            }
        }

        var x = JinjaValues.ToDouble(l);
        var y = JinjaValues.ToDouble(r);
        if (y == 0 && op is "/" or "//" or "%") throw new TemplateException("float division by zero");
        return op switch
        {
            "+" => x + y,
            "-" => x - y,
            "*" => x * y,
            "/" => x / y,
            "//" => Math.Floor(x / y),
            "%" => x - (y * Math.Floor(x / y)),
            "**" => Math.Pow(x, y),
            _ => throw new TemplateException($"unknown operator '{op}'"),
        };
    }

    /// <summary>Python int arithmetic on 64 bits: floor division and modulo, overflow reported instead of wrapping.</summary>
    private static object? IntegerArithmetic(string op, object? l, object? r)
    {
        checked
        {
            var a = l is bool lb ? (lb ? 1L : 0L) : (long)l!;
            var b = r is bool rb ? (rb ? 1L : 0L) : (long)r!;
            switch (op)
            {
                case "+": return a + b;
                case "-": return a - b;
                case "*": return a * b;
                case "**": return b >= 0 ? (object)(long)Math.Pow(a, b) : Math.Pow(a, b);
                case "//":
                    if (b == 0) throw new TemplateException("integer division by zero");
                    var q = a / b;
                    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
                case "%":
                    if (b == 0) throw new TemplateException("integer modulo by zero");
                    return ((a % b) + b) % b;
                default:
                    throw new TemplateException($"unknown operator '{op}'");
            }
        }
    }
}
