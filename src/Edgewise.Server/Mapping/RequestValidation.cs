using System.Globalization;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Http;

namespace Edgewise.Server.Mapping;

/// <summary>Checks shared by every endpoint: model lookup, numeric ranges, <c>stop</c>, <c>logit_bias</c>.</summary>
internal static class RequestValidation
{
    public const int MaxStopSequences = 16;
    public const int MaxChoices = 16;
    public const int MaxTopLogprobs = 20;

    /// <summary>Finds the requested model, or throws 400 (missing) / 404 (unknown) naming it.</summary>
    public static ModelDescriptor ResolveModel(IChatBackend backend, string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw ApiException.Missing("model");
        // Ollama clients add the default tag (":latest") to names they got from /api/tags.
        var untagged = name.EndsWith(":latest", StringComparison.OrdinalIgnoreCase) ? name[..^7] : name;
        foreach (var model in backend.Models)
        {
            if (model.Matches(name) || model.Matches(untagged))
                return model;
        }

        throw new ApiException(404, ErrorTypes.InvalidRequest,
            $"The model '{name}' does not exist. Available: {string.Join(", ", backend.Models.Select(m => m.Id))}.",
            "model", "model_not_found");
    }

    public static float? Range(float? value, string param, float min, float max)
    {
        if (value is { } v && (float.IsNaN(v) || v < min || v > max))
            throw ApiException.OutOfRange(param, $"a number in [{Fmt(min)}, {Fmt(max)}]", Fmt(v));
        return value;
    }

    public static int? Range(int? value, string param, int min, int max)
    {
        if (value is { } v && (v < min || v > max))
            throw ApiException.OutOfRange(param, $"an integer in [{min}, {max}]", v.ToString(CultureInfo.InvariantCulture));
        return value;
    }

    public static SamplingParameters Sampling(
        float? temperature, float? topP, int? topK, float? minP,
        float? presencePenalty, float? frequencyPenalty, float? repetitionPenalty,
        long? seed, Dictionary<string, float>? logitBias) => new()
    {
        Temperature = Range(temperature, "temperature", 0f, 2f),
        TopP = Range(topP, "top_p", 0f, 1f),
        TopK = Range(topK, "top_k", 0, 1_000_000),
        MinP = Range(minP, "min_p", 0f, 1f),
        PresencePenalty = Range(presencePenalty, "presence_penalty", -2f, 2f),
        FrequencyPenalty = Range(frequencyPenalty, "frequency_penalty", -2f, 2f),
        RepetitionPenalty = Range(repetitionPenalty, "repetition_penalty", 0.01f, 10f),
        Seed = seed,
        LogitBias = LogitBias(logitBias),
    };

    private static Dictionary<int, float> LogitBias(Dictionary<string, float>? bias)
    {
        var result = new Dictionary<int, float>();
        if (bias is null)
            return result;
        foreach (var (key, value) in bias)
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var token))
                throw ApiException.Invalid("logit_bias", $"Invalid key in 'logit_bias': expected a token id, found '{key}'.", "invalid_value");
            Range(value, "logit_bias", -100f, 100f);
            result[token] = value;
        }

        return result;
    }

    /// <summary><c>stop</c>: absent, null, a string, or an array of non-empty strings.</summary>
    public static IReadOnlyList<string> Stop(JsonElement? stop, string param = "stop")
    {
        if (stop is not { } element || element.ValueKind == JsonValueKind.Null)
            return [];
        if (element.ValueKind == JsonValueKind.String)
            return NonEmpty(element.GetString()!, param) is { } one ? [one] : [];
        if (element.ValueKind != JsonValueKind.Array)
            throw ApiException.WrongType(param, "a string or an array of strings");
        if (element.GetArrayLength() > MaxStopSequences)
            throw ApiException.OutOfRange(param, $"at most {MaxStopSequences} sequences", element.GetArrayLength().ToString(CultureInfo.InvariantCulture));
        var list = new List<string>();
        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
                throw ApiException.WrongType($"{param}[{i}]", "a string");
            if (NonEmpty(item.GetString()!, $"{param}[{i}]") is { } s)
                list.Add(s);
            i++;
        }

        return list;
    }

    public static List<string> Stop(List<string>? stop, string param)
    {
        var list = new List<string>();
        if (stop is null)
            return list;
        if (stop.Count > MaxStopSequences)
            throw ApiException.OutOfRange(param, $"at most {MaxStopSequences} sequences", stop.Count.ToString(CultureInfo.InvariantCulture));
        for (var i = 0; i < stop.Count; i++)
        {
            if (stop[i] is null)
                throw ApiException.WrongType($"{param}[{i}]", "a string");
            if (NonEmpty(stop[i], $"{param}[{i}]") is { } s)
                list.Add(s);
        }

        return list;
    }

    // OpenAI ignores "" in stop lists (it would end every generation at once).
    private static string? NonEmpty(string value, string param) => value.Length == 0 ? null : value;

    /// <summary>Completion cap: positive, and below the context (the backend checks prompt + cap).</summary>
    public static int? MaxTokens(int? value, string param, ModelDescriptor model)
    {
        if (value is not { } v)
            return null;
        if (v < 1)
            throw ApiException.OutOfRange(param, "an integer >= 1", v.ToString(CultureInfo.InvariantCulture));
        if (v >= model.ContextLength)
        {
            throw ApiException.Invalid(param,
                $"'{param}' is {v}, but this model's maximum context length is {model.ContextLength} tokens, prompt included.",
                "context_length_exceeded");
        }

        return v;
    }

    /// <summary>Thinking is switched on when asked for and the model has it; other models ignore the switch.</summary>
    public static bool Thinking(ModelDescriptor model, bool? enable, string? effort, Dictionary<string, JsonElement>? templateKwargs)
    {
        bool? fromKwargs = templateKwargs is not null && templateKwargs.TryGetValue("enable_thinking", out var kw)
            ? kw.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw ApiException.WrongType("chat_template_kwargs.enable_thinking", "a boolean"),
            }
            : null;
        bool? fromEffort = effort is null ? null : effort.ToLowerInvariant() switch
        {
            "none" or "minimal" => false,
            "low" or "medium" or "high" => true,
            _ => throw ApiException.OutOfRange("reasoning_effort", "one of none, minimal, low, medium, high", $"'{effort}'"),
        };
        var wanted = enable ?? fromKwargs ?? fromEffort ?? false;
        return wanted && model.SupportsThinking;
    }

    private static string Fmt(float v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
