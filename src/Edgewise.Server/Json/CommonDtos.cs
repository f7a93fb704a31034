using System.Text.Json.Serialization;

namespace Edgewise.Server.Json;

/// <summary>OpenAI's error envelope: <c>{"error":{"message","type","param","code"}}</c>.</summary>
public sealed record ErrorEnvelopeDto(ErrorDto Error);

public sealed record ErrorDto(
    string Message,
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);

/// <summary>Ollama's error shape: a bare message string.</summary>
public sealed record OllamaErrorDto(string Error);

public sealed record ModelListDto(IReadOnlyList<ModelDto> Data)
{
    public string Object => "list";
}

public sealed record ModelDto(string Id, long Created, string OwnedBy, int ContextLength, IReadOnlyList<string> Capabilities)
{
    public string Object => "model";
}

public sealed record HealthDto(string Status, string? Message);

internal static class ServerInfo
{
    /// <summary>Changes when the server's wire behaviour changes; OpenAI clients log it.</summary>
    public const string SystemFingerprint = "fp_edgewise_1";
}
