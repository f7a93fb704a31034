using System.Text.Json;

namespace Edgewise.Engine.Constraints;

/// <summary>A function the model may call: its name and the JSON Schema of its arguments (null = no arguments).</summary>
public sealed record ToolFunction(string Name, JsonElement? Parameters = null);

/// <summary>OpenAI <c>tool_choice</c>: none, auto, required, or one named function.</summary>
public sealed record ToolChoice
{
    private ToolChoice(ToolChoiceMode mode, string? functionName)
    {
        Mode = mode;
        FunctionName = functionName;
    }

    public ToolChoiceMode Mode { get; }

    /// <summary>The forced function when <see cref="Mode"/> is <see cref="ToolChoiceMode.Function"/>.</summary>
    public string? FunctionName { get; }

    public static ToolChoice None { get; } = new(ToolChoiceMode.None, null);

    public static ToolChoice Auto { get; } = new(ToolChoiceMode.Auto, null);

    public static ToolChoice Required { get; } = new(ToolChoiceMode.Required, null);

    public static ToolChoice Function(string name) => new(ToolChoiceMode.Function, name ?? throw new ArgumentNullException(nameof(name)));
}

public enum ToolChoiceMode
{
    None,
    Auto,
    Required,
    Function,
}

/// <summary>
/// The grammar of a Gemma 4 model turn under a tool choice (gemma-architecture.md §7.2):
/// <c>&lt;|tool_call&gt;call:NAME{key:&lt;|"|&gt;text&lt;|"|&gt;,n:42,flag:true,list:[...],obj:{...}}&lt;tool_call|&gt;</c>,
/// arguments following each tool's JSON Schema in Gemma's syntax. <c>auto</c> allows free text, then optional calls;
/// <c>none</c> free text only; <c>required</c> one or more calls; a named function exactly one call of it.
/// Free text and strings never spell "&lt;|" or "|&gt;", so only real control-token ids can open or close a call.
/// </summary>
public static class GemmaToolCallGrammar
{
    public const string ToolCallStart = "<|tool_call>";
    public const string ToolCallEnd = "<tool_call|>";
    public const string StringQuote = SchemaCompiler.GemmaQuote;
    public const string ChannelStart = "<|channel>";
    public const string ChannelEnd = "<channel|>";

    /// <param name="tools">The functions on offer.</param>
    /// <param name="choice">OpenAI tool_choice.</param>
    /// <param name="parallelCalls">OpenAI parallel_tool_calls: when false, at most one call.</param>
    /// <param name="allowThinking">Allow one leading <c>&lt;|channel&gt;thought…&lt;channel|&gt;</c> block (thinking mode).</param>
    public static Grammar Create(IReadOnlyList<ToolFunction> tools, ToolChoice choice, bool parallelCalls = true, bool allowThinking = false)
    {
        ArgumentNullException.ThrowIfNull(tools);
        ArgumentNullException.ThrowIfNull(choice);
        var builder = new GrammarBuilder();
        var compiler = new SchemaCompiler(builder, ValueSyntax.Gemma, new JsonGrammarOptions { MaxWhitespace = 0 });
        int text = compiler.FreeText();

        var names = new HashSet<string>(StringComparer.Ordinal);
        bool callsPossible = choice.Mode != ToolChoiceMode.None && tools.Count > 0;
        int call = callsPossible ? builder.DeclareRule("call") : -1;
        foreach (var tool in tools)
        {
            if (!SchemaCompiler.IsBareKey(tool.Name) || tool.Name.Length > 64)
                throw new SchemaCompileException("", $"tool name '{tool.Name}' must be 1-64 characters of [a-zA-Z0-9_-]");
            if (!names.Add(tool.Name))
                throw new SchemaCompileException("", $"tool '{tool.Name}' is defined twice");
            if (!callsPossible || (choice.Mode == ToolChoiceMode.Function && choice.FunctionName != tool.Name))
                continue;
            int arguments = CompileArguments(compiler, tool);
            var symbols = new List<GrammarSymbol> { builder.Token(ToolCallStart) };
            symbols.AddRange(builder.Literal("call:" + tool.Name));
            symbols.Add(builder.Ref(arguments));
            symbols.Add(builder.Token(ToolCallEnd));
            builder.AddAlternative(call, symbols);
        }
        if (choice.Mode == ToolChoiceMode.Function && !names.Contains(choice.FunctionName!))
            throw new SchemaCompileException("", $"tool_choice names '{choice.FunctionName}', which is not among the tools");
        if (choice.Mode is ToolChoiceMode.Required or ToolChoiceMode.Function && tools.Count == 0)
            throw new SchemaCompileException("", $"tool_choice '{choice.Mode}' needs at least one tool");

        int calls = call;
        if (callsPossible && parallelCalls && choice.Mode != ToolChoiceMode.Function)
        {
            calls = builder.DeclareRule("calls");
            builder.AddAlternative(calls, [builder.Ref(call)]);
            builder.AddAlternative(calls, [builder.Ref(call), builder.Ref(calls)]);
        }

        int body = builder.DeclareRule("body");
        switch (choice.Mode)
        {
            case ToolChoiceMode.None:
                builder.AddAlternative(body, [builder.Ref(text)]);
                break;
            case ToolChoiceMode.Auto:
                builder.AddAlternative(body, [builder.Ref(text)]);
                if (callsPossible)
                    builder.AddAlternative(body, [builder.Ref(text), builder.Ref(calls)]);
                break;
            default:
                builder.AddAlternative(body, [builder.Ref(calls)]);
                break;
        }

        int root = body;
        if (allowThinking)
        {
            var thought = new List<GrammarSymbol> { builder.Token(ChannelStart) };
            thought.Add(builder.Ref(text));
            thought.Add(builder.Token(ChannelEnd));
            thought.Add(builder.Ref(body));
            root = builder.Rule("root", [builder.Ref(body)], thought);
        }
        return builder.Build(root);
    }

    private static int CompileArguments(SchemaCompiler compiler, ToolFunction tool)
    {
        if (tool.Parameters is not { } schema || schema.ValueKind == JsonValueKind.Null)
            return compiler.Builder.Rule("no_arguments", compiler.Builder.Literal("{}"));
        if (schema.ValueKind != JsonValueKind.Object
            || (schema.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() != "object"))
            throw new SchemaCompileException("", $"parameters of tool '{tool.Name}' must be an object schema");
        try
        {
            return compiler.CompileDocument(schema);
        }
        catch (SchemaCompileException e)
        {
            throw new SchemaCompileException(e.Pointer, $"tool '{tool.Name}': {e.Message}");
        }
    }
}
