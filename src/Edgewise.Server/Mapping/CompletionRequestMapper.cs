using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Http;
using Edgewise.Server.Json;

namespace Edgewise.Server.Mapping;

/// <summary>Validates a legacy <c>/v1/completions</c> body: a raw prompt, no template, no tools.</summary>
internal static class CompletionRequestMapper
{
    public const int MaxLegacyLogprobs = 5;

    public static ChatCall Map(CompletionRequestDto dto, IChatBackend backend)
    {
        var model = RequestValidation.ResolveModel(backend, dto.Model);
        var stream = dto.Stream ?? false;
        if (dto.StreamOptions is not null && !stream)
            throw ApiException.Invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.", "invalid_value");
        if (!string.IsNullOrEmpty(dto.Suffix))
            throw ApiException.Invalid("suffix", "'suffix' (fill-in-the-middle) is not supported by Gemma models.", "unsupported_value");
        var logprobs = RequestValidation.Range(dto.Logprobs, "logprobs", 0, MaxLegacyLogprobs);
        var request = new GenerationRequest
        {
            Model = model.Id,
            Prompt = Prompt(dto.Prompt),
            Sampling = RequestValidation.Sampling(dto.Temperature, dto.TopP, dto.TopK, dto.MinP, dto.PresencePenalty,
                dto.FrequencyPenalty, dto.RepetitionPenalty, dto.Seed, dto.LogitBias),
            Stop = RequestValidation.Stop(dto.Stop),
            // The legacy endpoint defaults to 16 tokens; clients that want more say so.
            MaxTokens = RequestValidation.MaxTokens(dto.MaxTokens, "max_tokens", model) ?? 16,
            ChoiceCount = RequestValidation.Range(dto.N, "n", 1, RequestValidation.MaxChoices) ?? 1,
            Logprobs = logprobs is not null,
            TopLogprobs = logprobs ?? 0,
            Echo = dto.Echo ?? false,
        };
        return new ChatCall(request, model, stream, dto.StreamOptions?.IncludeUsage ?? false);
    }

    private static string Prompt(JsonElement? prompt)
    {
        switch (prompt)
        {
            case null or { ValueKind: JsonValueKind.Null }:
                throw ApiException.Missing("prompt");
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString()!;
            case { ValueKind: JsonValueKind.Array } a:
                if (a.GetArrayLength() != 1 || a[0].ValueKind != JsonValueKind.String)
                {
                    throw ApiException.Invalid("prompt",
                        "'prompt' must be a string or an array holding exactly one string; batched and token-id prompts are not supported.", "unsupported_value");
                }

                return a[0].GetString()!;
            default:
                throw ApiException.WrongType("prompt", "a string");
        }
    }
}
