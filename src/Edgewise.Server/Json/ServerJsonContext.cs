using System.Text.Json;
using System.Text.Json.Serialization;

namespace Edgewise.Server.Json;

/// <summary>
/// Source-generated serializers for every wire shape: no reflection at run time, snake_case names,
/// nulls omitted unless a DTO marks a field as always present (OpenAI sends <c>"finish_reason": null</c>).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(ChatCompletionRequestDto))]
[JsonSerializable(typeof(ChatCompletionDto))]
[JsonSerializable(typeof(ChatChunkDto))]
[JsonSerializable(typeof(CompletionRequestDto))]
[JsonSerializable(typeof(CompletionDto))]
[JsonSerializable(typeof(ResponsesRequestDto))]
[JsonSerializable(typeof(ResponsesInputItemDto))]
[JsonSerializable(typeof(ResponseObjectDto))]
[JsonSerializable(typeof(ResponseStreamEventDto))]
[JsonSerializable(typeof(OllamaChatRequestDto))]
[JsonSerializable(typeof(OllamaGenerateRequestDto))]
[JsonSerializable(typeof(OllamaShowRequestDto))]
[JsonSerializable(typeof(OllamaChatResponseDto))]
[JsonSerializable(typeof(OllamaGenerateResponseDto))]
[JsonSerializable(typeof(OllamaTagsDto))]
[JsonSerializable(typeof(OllamaVersionDto))]
[JsonSerializable(typeof(OllamaShowDto))]
[JsonSerializable(typeof(ErrorEnvelopeDto))]
[JsonSerializable(typeof(OllamaErrorDto))]
[JsonSerializable(typeof(ModelListDto))]
[JsonSerializable(typeof(ModelDto))]
[JsonSerializable(typeof(HealthDto))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(string))]
public sealed partial class ServerJsonContext : JsonSerializerContext;
