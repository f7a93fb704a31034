using System.Text;
using Edgewise.Text.Chat;
using Edgewise.Text.Templates;

namespace Edgewise.Text.ToolCalls;

/// <summary>
/// Gemma 4's tool syntax written from C#: the declaration the official template emits for an OpenAI tool
/// (same as its <c>format_function_declaration</c> / <c>format_parameters</c> macros, 2026-07 revision), and call
/// arguments (<c>format_argument</c> with bare keys). Used where no template is at hand (grammars, tests, logs).
/// </summary>
public static class Gemma4ToolSyntax
{
    private const string Q = "<|\"|>";
    private static readonly string[] StandardKeys = ["description", "type", "properties", "required", "nullable"];

    /// <summary><c>declaration:NAME{description:…,parameters:{properties:{…},required:[…],type:…}}</c>.</summary>
    public static string FormatDeclaration(ToolDefinition tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        var sb = new StringBuilder("declaration:").Append(tool.Name).Append("{description:").Append(Q).Append(tool.Description).Append(Q);
        var parameters = tool.ParametersSchema is null ? null : JinjaValues.ParseJson(tool.ParametersSchema) as JinjaDict;
        if (JinjaValues.IsTruthy(parameters))
        {
            sb.Append(",parameters:{");
            if (JinjaValues.IsTruthy(Get(parameters!, "properties")))
            {
                sb.Append("properties:{");
                FormatParameters(sb, Get(parameters!, "properties"), filterKeys: false);
                sb.Append("},");
            }

            if (JinjaValues.IsTruthy(Get(parameters!, "required")))
            {
                sb.Append("required:[");
                AppendQuotedList(sb, Get(parameters!, "required"));
                sb.Append("],");
            }

            // As in the template: the parameters map is only closed together with its type.
            if (JinjaValues.IsTruthy(Get(parameters!, "type"))) sb.Append("type:").Append(Q).Append(Upper(Get(parameters!, "type"))).Append(Q).Append('}');
        }

        return sb.Append('}').ToString().Trim();
    }

    /// <summary>Call arguments as the template writes them in history: <c>{city:&lt;|"|&gt;Paris&lt;|"|&gt;,n:3}</c>, keys sorted.</summary>
    public static string FormatArguments(string argumentsJson)
    {
        var value = JinjaValues.ParseJson(argumentsJson);
        if (value is not JinjaDict) throw new FormatException($"tool call arguments must be a JSON object, found {JinjaValues.TypeName(value)}");
        var sb = new StringBuilder();
        FormatArgument(sb, value, escapeKeys: false);
        return sb.ToString();
    }

    private static void FormatParameters(StringBuilder sb, object? properties, bool filterKeys)
    {
        if (properties is not JinjaDict props) return;
        var first = true;
        foreach (var (key, value) in DictSort(props))
        {
            if (filterKeys && Array.IndexOf(StandardKeys, key) >= 0) continue;
            if (!first) sb.Append(',');
            first = false;
            sb.Append(key).Append(":{");
            var addComma = false;
            void Comma()
            {
                if (addComma) sb.Append(',');
                else addComma = true;
            }

            if (JinjaValues.IsTruthy(Get(value, "description")))
            {
                sb.Append("description:").Append(Q).Append(JinjaValues.ToPythonString(Get(value, "description"))).Append(Q);
                addComma = true;
            }

            var type = Upper(Get(value, "type"));
            if (type == "STRING")
            {
                if (JinjaValues.IsTruthy(Get(value, "enum")))
                {
                    Comma();
                    sb.Append("enum:");
                    FormatArgument(sb, Get(value, "enum"), escapeKeys: true);
                }
            }
            else if (type == "ARRAY" && Get(value, "items") is JinjaDict items && items.Count > 0)
            {
                Comma();
                sb.Append("items:{");
                var firstItem = true;
                foreach (var (itemKey, itemValue) in DictSort(items))
                {
                    if (itemValue is null) continue;
                    if (!firstItem) sb.Append(',');
                    firstItem = false;
                    switch (itemKey)
                    {
                        case "properties":
                            sb.Append("properties:{");
                            FormatParameters(sb, itemValue, filterKeys: false);
                            sb.Append('}');
                            break;
                        case "required":
                            sb.Append("required:[");
                            AppendQuotedList(sb, itemValue);
                            sb.Append(']');
                            break;
                        case "type":
                            sb.Append("type:");
                            FormatArgument(sb, itemValue is string s ? s.ToUpperInvariant() : UpperAll(itemValue), escapeKeys: true);
                            break;
                        default:
                            sb.Append(itemKey).Append(':');
                            FormatArgument(sb, itemValue, escapeKeys: true);
                            break;
                    }
                }

                sb.Append('}');
            }

            if (JinjaValues.IsTruthy(Get(value, "nullable")))
            {
                Comma();
                sb.Append("nullable:true");
            }

            if (type == "OBJECT")
            {
                if (Get(value, "properties") is JinjaDict nested)
                {
                    Comma();
                    sb.Append("properties:{");
                    FormatParameters(sb, nested, filterKeys: false);
                    sb.Append('}');
                }
                else if (value is JinjaDict)
                {
                    Comma();
                    sb.Append("properties:{");
                    FormatParameters(sb, value, filterKeys: true);
                    sb.Append('}');
                }

                if (JinjaValues.IsTruthy(Get(value, "required")))
                {
                    Comma();
                    sb.Append("required:[");
                    AppendQuotedList(sb, Get(value, "required"));
                    sb.Append(']');
                }
            }

            Comma();
            sb.Append("type:").Append(Q).Append(type).Append(Q).Append('}');
        }
    }

    private static void FormatArgument(StringBuilder sb, object? argument, bool escapeKeys)
    {
        switch (argument)
        {
            case null:
                sb.Append("null");
                break;
            case string s:
                sb.Append(Q).Append(s).Append(Q);
                break;
            case bool b:
                sb.Append(b ? "true" : "false");
                break;
            case JinjaDict dict:
                sb.Append('{');
                var first = true;
                foreach (var (key, value) in DictSort(dict))
                {
                    if (!first) sb.Append(',');
                    first = false;
                    if (escapeKeys) sb.Append(Q).Append(key).Append(Q);
                    else sb.Append(key);
                    sb.Append(':');
                    FormatArgument(sb, value, escapeKeys);
                }

                sb.Append('}');
                break;
            case List<object?> list:
                sb.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(',');
                    FormatArgument(sb, list[i], escapeKeys);
                }

                sb.Append(']');
                break;
            default:
                sb.Append(JinjaValues.ToPythonString(argument));
                break;
        }
    }

    private static void AppendQuotedList(StringBuilder sb, object? items)
    {
        if (items is not List<object?> list) return;
        for (var i = 0; i < list.Count; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(Q).Append(JinjaValues.ToPythonString(list[i])).Append(Q);
        }
    }

    /// <summary>Jinja2's <c>dictsort</c>: by key, case-insensitive, stable.</summary>
    private static List<KeyValuePair<string, object?>> DictSort(JinjaDict dict)
    {
        var entries = dict.Select((kv, i) => (kv, i)).ToList();
        entries.Sort((a, b) =>
        {
            var c = string.CompareOrdinal(a.kv.Key.ToLowerInvariant(), b.kv.Key.ToLowerInvariant());
            return c != 0 ? c : a.i.CompareTo(b.i);
        });
        return entries.Select(e => e.kv).ToList();
    }

    private static object? Get(object? mapping, string key) =>
        mapping is JinjaDict dict && dict.TryGetValue(key, out var value) ? value : new JinjaUndefined(key);

    private static string Upper(object? value) => JinjaValues.ToPythonString(value).ToUpperInvariant();

    private static List<object?> UpperAll(object? value) =>
        value is List<object?> list ? list.Select(v => (object?)JinjaValues.ToPythonString(v).ToUpperInvariant()).ToList() : [];
}
