using System.Globalization;
using System.Text;

namespace Edgewise.Text.Templates;

/// <summary>Attribute/item access, iteration, membership and the global functions, following Jinja2's sandbox.</summary>
internal static partial class JinjaBuiltins
{
    public static object? GetAttribute(object? obj, string name)
    {
        switch (obj)
        {
            case JinjaUndefined u:
                throw new TemplateException($"'{u.Name}' is undefined (reading attribute '{name}')");
            case null:
                throw new TemplateException($"'None' has no attribute '{name}'");
            case JinjaNamespace ns:
                return ns.Attributes.TryGetValue(name, out var v) ? v : new JinjaUndefined(name);
            case LoopInfo loop:
                return loop.Get(name);
            case JinjaDict dict:
                return DictMethod(dict, name) ?? (dict.TryGetValue(name, out var item) ? item : new JinjaUndefined(name));
            case string s:
                return (object?)StringMethod(s, name) ?? new JinjaUndefined(name);
            case List<object?>:
                return new JinjaUndefined(name);
            default:
                return new JinjaUndefined(name);
        }
    }

    public static object? GetItem(object? obj, object? key)
    {
        switch (obj)
        {
            case JinjaUndefined u:
                throw new TemplateException($"'{u.Name}' is undefined (reading item {JinjaValues.Repr(key)})");
            case null:
                throw new TemplateException($"'None' is not subscriptable (reading item {JinjaValues.Repr(key)})");
            case JinjaDict dict:
                if (key is string sk)
                {
                    if (dict.TryGetValue(sk, out var value)) return value;
                    return (object?)DictMethod(dict, sk) ?? new JinjaUndefined(sk);
                }

                return new JinjaUndefined(JinjaValues.Repr(key));
            case List<object?> list when key is long or bool:
                var index = (long)JinjaValues.ToDouble(key);
                if (index < 0) index += list.Count;
                return index >= 0 && index < list.Count ? list[(int)index] : new JinjaUndefined($"[{key}]");
            case string s when key is long or bool:
                var i = (long)JinjaValues.ToDouble(key);
                if (i < 0) i += s.Length;
                return i >= 0 && i < s.Length ? s[(int)i].ToString() : new JinjaUndefined($"[{key}]");
            case JinjaNamespace or LoopInfo when key is string name:
                return GetAttribute(obj, name);
            case string s when key is string name:
                return (object?)StringMethod(s, name) ?? new JinjaUndefined(name);
            default:
                return new JinjaUndefined(JinjaValues.Repr(key));
        }
    }

    /// <summary>Python slice semantics (<c>messages[1:]</c>, <c>s[::-1]</c>) on lists and strings.</summary>
    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        var length = obj switch
        {
            List<object?> l => l.Count,
            string s => s.Length,
            _ => throw new TemplateException($"cannot slice {JinjaValues.TypeName(obj)}"),
        };
        var stepValue = step is null or JinjaUndefined ? 1 : (long)JinjaValues.ToDouble(step);
        if (stepValue == 0) throw new TemplateException("slice step cannot be zero");

        long Bound(object? v, long fallback)
        {
            if (v is null or JinjaUndefined) return fallback;
            var x = (long)JinjaValues.ToDouble(v);
            if (x < 0) x += length;
            return stepValue > 0 ? Math.Clamp(x, 0, length) : Math.Clamp(x, -1, length - 1);
        }

        var from = Bound(start, stepValue > 0 ? 0 : length - 1);
        var to = Bound(stop, stepValue > 0 ? length : -1);
        var indices = new List<int>();
        for (var i = from; stepValue > 0 ? i < to : i > to; i += stepValue) indices.Add((int)i);
        if (obj is string str)
        {
            var sb = new StringBuilder(indices.Count);
            foreach (var i in indices) sb.Append(str[i]);
            return sb.ToString();
        }

        var list = (List<object?>)obj!;
        var result = new List<object?>(indices.Count);
        foreach (var i in indices) result.Add(list[i]);
        return result;
    }

    /// <summary>What a for loop walks: list items, dict keys, string characters.</summary>
    public static List<object?> Iterate(object? value)
    {
        switch (value)
        {
            case List<object?> list:
                return list;
            case JinjaDict dict:
                var keys = new List<object?>(dict.Count);
                foreach (var key in dict.Keys) keys.Add(key);
                return keys;
            case string s:
                var chars = new List<object?>(s.Length);
                foreach (var c in s) chars.Add(c.ToString());
                return chars;
            case JinjaUndefined:
                // Jinja2 iterates an undefined value as empty.
                return [];
            default:
                throw new TemplateException($"{JinjaValues.TypeName(value)} is not iterable");
        }
    }

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string s:
                if (item is not string needle) throw new TemplateException($"'in <string>' requires a string on the left, found {JinjaValues.TypeName(item)}");
                return s.Contains(needle, StringComparison.Ordinal);
            case List<object?> list:
                foreach (var element in list)
                {
                    if (JinjaValues.PyEquals(element, item)) return true;
                }

                return false;
            case JinjaDict dict:
                return item is string key && dict.ContainsKey(key);
            case JinjaUndefined u:
                throw new TemplateException($"'{u.Name}' is undefined (right side of 'in')");
            default:
                throw new TemplateException($"argument of type {JinjaValues.TypeName(container)} is not iterable");
        }
    }

    /// <summary>The globals every render gets: <c>range</c>, <c>namespace</c>, <c>dict</c>, <c>raise_exception</c>.</summary>
    public static void AddGlobals(Dictionary<string, object?> globals)
    {
        globals["range"] = new JinjaCallable("range", Range);
        globals["namespace"] = new JinjaCallable("namespace", args =>
        {
            var ns = new JinjaNamespace();
            foreach (var positional in args.Positional)
            {
                if (positional is not JinjaDict initial) throw new TemplateException("namespace() positional argument must be a dict");
                foreach (var (key, value) in initial) ns.Attributes[key] = value;
            }

            foreach (var (key, value) in args.Named) ns.Attributes[key] = value;
            return ns;
        });
        globals["dict"] = new JinjaCallable("dict", args =>
        {
            var dict = new JinjaDict();
            foreach (var (key, value) in args.Named) dict[key] = value;
            return dict;
        });
        globals["raise_exception"] = new JinjaCallable("raise_exception", args =>
            throw new TemplateRaisedException(JinjaValues.ToPythonString(args.Get(0, "message", "template raised an exception"))));
    }

    private static List<object?> Range(CallArgs args)
    {
        long start = 0, stop, step = 1;
        var p = args.Positional;
        switch (p.Count)
        {
            case 1: stop = ToLong(p[0], "range"); break;
            case 2: start = ToLong(p[0], "range"); stop = ToLong(p[1], "range"); break;
            case 3: start = ToLong(p[0], "range"); stop = ToLong(p[1], "range"); step = ToLong(p[2], "range"); break;
            default: throw new TemplateException($"range expected 1 to 3 arguments, got {p.Count}");
        }

        if (step == 0) throw new TemplateException("range() step must not be zero");
        var result = new List<object?>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (result.Count >= 1_000_000) throw new TemplateException("range() result is too large");
            result.Add(i);
        }

        return result;
    }

    internal static long ToLong(object? value, string where) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateException($"{where}: expected an integer, found {JinjaValues.TypeName(value)}"),
    };

    private static JinjaCallable? DictMethod(JinjaDict dict, string name) => name switch
    {
        "get" => new JinjaCallable("dict.get", args =>
        {
            var key = args.Get(0, "key", null);
            return key is string k && dict.TryGetValue(k, out var v) ? v : args.Get(1, "default", null);
        }),
        "items" => new JinjaCallable("dict.items", _ => Items(dict)),
        "keys" => new JinjaCallable("dict.keys", _ => Iterate(dict)),
        "values" => new JinjaCallable("dict.values", _ => new List<object?>(dict.Values)),
        _ => null,
    };

    internal static List<object?> Items(JinjaDict dict)
    {
        var items = new List<object?>(dict.Count);
        foreach (var (key, value) in dict) items.Add(new List<object?> { key, value });
        return items;
    }

    private static JinjaCallable? StringMethod(string s, string name) => name switch
    {
        "upper" => new JinjaCallable("str.upper", _ => s.ToUpperInvariant()),
        "lower" => new JinjaCallable("str.lower", _ => s.ToLowerInvariant()),
        "title" => new JinjaCallable("str.title", _ => Title(s)),
        "capitalize" => new JinjaCallable("str.capitalize", _ => Capitalize(s)),
        "strip" => new JinjaCallable("str.strip", args => Strip(s, args.Get(0, "chars", null), true, true)),
        "lstrip" => new JinjaCallable("str.lstrip", args => Strip(s, args.Get(0, "chars", null), true, false)),
        "rstrip" => new JinjaCallable("str.rstrip", args => Strip(s, args.Get(0, "chars", null), false, true)),
        "startswith" => new JinjaCallable("str.startswith", args => AnyAffix(s, args.Get(0, "prefix", null), true)),
        "endswith" => new JinjaCallable("str.endswith", args => AnyAffix(s, args.Get(0, "suffix", null), false)),
        "split" => new JinjaCallable("str.split", args => Split(s, args.Get(0, "sep", null), args.Get(1, "maxsplit", -1L))),
        "replace" => new JinjaCallable("str.replace", args => Replace(s, args.Get(0, "old", null), args.Get(1, "new", null), args.Get(2, "count", -1L))),
        "find" => new JinjaCallable("str.find", args => (long)s.IndexOf(RequireString(args.Get(0, "sub", null), "str.find"), StringComparison.Ordinal)),
        "count" => new JinjaCallable("str.count", args => (long)CountOccurrences(s, RequireString(args.Get(0, "sub", null), "str.count"))),
        "join" => new JinjaCallable("str.join", args => Join(Iterate(args.Get(0, "iterable", null)), s)),
        "isdigit" => new JinjaCallable("str.isdigit", _ => s.Length > 0 && s.All(char.IsDigit)),
        "isspace" => new JinjaCallable("str.isspace", _ => s.Length > 0 && s.All(char.IsWhiteSpace)),
        _ => null,
    };

    internal static string RequireString(object? value, string where) =>
        value as string ?? throw new TemplateException($"{where}: expected a string, found {JinjaValues.TypeName(value)}");

    internal static string Strip(string s, object? chars, bool left, bool right)
    {
        if (chars is null or JinjaUndefined)
        {
            return left && right ? s.Trim() : left ? s.TrimStart() : s.TrimEnd();
        }

        var set = RequireString(chars, "strip").ToCharArray();
        return left && right ? s.Trim(set) : left ? s.TrimStart(set) : s.TrimEnd(set);
    }

    private static bool AnyAffix(string s, object? affix, bool prefix)
    {
        if (affix is List<object?> options) return options.Any(o => AnyAffix(s, o, prefix));
        var text = RequireString(affix, prefix ? "startswith" : "endswith");
        return prefix ? s.StartsWith(text, StringComparison.Ordinal) : s.EndsWith(text, StringComparison.Ordinal);
    }

    /// <summary>Python <c>str.split</c>: with no separator, splits on whitespace runs and drops empty pieces.</summary>
    private static List<object?> Split(string s, object? separator, object? maxSplit)
    {
        var max = ToLong(maxSplit, "split");
        var result = new List<object?>();
        if (separator is null or JinjaUndefined)
        {
            var pos = 0;
            while (true)
            {
                while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
                if (pos >= s.Length) break;
                if (max >= 0 && result.Count == max)
                {
                    result.Add(s[pos..].TrimEnd());
                    break;
                }

                var end = pos;
                while (end < s.Length && !char.IsWhiteSpace(s[end])) end++;
                result.Add(s[pos..end]);
                pos = end;
            }

            return result;
        }

        var sep = RequireString(separator, "split");
        if (sep.Length == 0) throw new TemplateException("split: empty separator");
        var start = 0;
        while (max < 0 || result.Count < max)
        {
            var at = s.IndexOf(sep, start, StringComparison.Ordinal);
            if (at < 0) break;
            result.Add(s[start..at]);
            start = at + sep.Length;
        }

        result.Add(s[start..]);
        return result;
    }

    internal static string Replace(string s, object? oldValue, object? newValue, object? count)
    {
        var old = RequireString(oldValue, "replace");
        var replacement = JinjaValues.ToPythonString(newValue);
        var max = ToLong(count, "replace");
        if (old.Length == 0) throw new TemplateException("replace: empty search string is not supported");
        if (max < 0) return s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        var start = 0;
        for (var n = 0; n < max; n++)
        {
            var at = s.IndexOf(old, start, StringComparison.Ordinal);
            if (at < 0) break;
            sb.Append(s, start, at - start).Append(replacement);
            start = at + old.Length;
        }

        return sb.Append(s, start, s.Length - start).ToString();
    }

    private static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        var count = 0;
        for (var at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    internal static string Join(List<object?> items, string separator)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) sb.Append(separator);
            sb.Append(JinjaValues.ToPythonString(items[i]));
        }

        return sb.ToString();
    }

    internal static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    internal static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var previousIsLetter = false;
        foreach (var c in s)
        {
            sb.Append(previousIsLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousIsLetter = char.IsLetter(c);
        }

        return sb.ToString();
    }

    /// <summary>Python <c>len()</c> of a string counts code points, not UTF-16 units.</summary>
    internal static long CodePointLength(string s)
    {
        long n = 0;
        foreach (var c in s)
        {
            if (!char.IsLowSurrogate(c)) n++;
        }

        return n;
    }

    internal static string ToInvariant(double d) => d.ToString(CultureInfo.InvariantCulture);
}
