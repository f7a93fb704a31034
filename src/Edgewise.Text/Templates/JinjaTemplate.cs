using System.Text;

namespace Edgewise.Text.Templates;

/// <summary>
/// A parsed Jinja template (the subset chat templates use), rendered the way transformers'
/// <c>apply_chat_template</c> renders: <c>trim_blocks</c>, <c>lstrip_blocks</c>, loop controls,
/// <c>raise_exception</c>, and a <c>tojson</c> that matches Python's <c>json.dumps(..., ensure_ascii=False)</c>.
/// Parse once, render many times; instances are immutable and thread-safe.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly List<Stmt> _body;

    private JinjaTemplate(string source, List<Stmt> body)
    {
        Source = source;
        _body = body;
    }

    /// <summary>The template text as given.</summary>
    public string Source { get; }

    /// <summary>Parses <paramref name="source"/>; throws <see cref="TemplateException"/> naming line and column on any unsupported construct.</summary>
    public static JinjaTemplate Parse(string source, bool trimBlocks = true, bool lstripBlocks = true)
    {
        ArgumentNullException.ThrowIfNull(source);
        var tokens = JinjaLexer.Tokenize(source, trimBlocks, lstripBlocks);
        return new JinjaTemplate(source, JinjaParser.Parse(tokens));
    }

    /// <summary>
    /// Renders with the given variables. Values must be template values (see <see cref="JinjaDict"/>):
    /// null, bool, long, double, string, <c>List&lt;object?&gt;</c>, <see cref="JinjaDict"/>; int and float are widened.
    /// </summary>
    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var globals = new Scope(null);
        JinjaBuiltins.AddGlobals(globals.Variables);
        foreach (var (name, value) in variables) globals.Variables[name] = Normalize(value);
        var ctx = new RenderContext(globals);
        var output = new StringBuilder();
        Stmt.ExecAll(_body, ctx, output);
        return output.ToString();
    }

    private static object? Normalize(object? value) => value switch
    {
        int i => (long)i,
        float f => (double)f,
        System.Text.Json.JsonElement element => JinjaValues.FromJson(element),
        System.Text.Json.Nodes.JsonNode node => JinjaValues.FromJson(node),
        _ => value,
    };
}
