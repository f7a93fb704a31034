using Xunit;

namespace Edgewise.Hub.Tests;

public sealed class ModelReferenceTests
{
    [Theory]
    [InlineData("gemma-4-e2b", "google/gemma-4-E2B-it-qat-q4_0-gguf", "Q4_0")]
    [InlineData("Gemma-4-E4B", "google/gemma-4-E4B-it-qat-q4_0-gguf", "Q4_0")]
    [InlineData("gemma-3n-e2b", "unsloth/gemma-3n-E2B-it-GGUF", "Q4_0")]
    [InlineData("gemma-3n-e4b:Q8_0", "unsloth/gemma-3n-E4B-it-GGUF", "Q8_0")]
    [InlineData("gemma-4-26b-a4b", "google/gemma-4-26B-A4B-it-qat-q4_0-gguf", "Q4_0")]
    [InlineData("gemma-4-31b", "google/gemma-4-31B-it-qat-q4_0-gguf", "Q4_0")]
    public void AliasesMapToRepositoryAndDefaultQuant(string text, string repository, string quant)
    {
        var reference = ModelReference.Parse(text);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(quant, reference.Quant);
        Assert.NotNull(reference.Alias);
        Assert.Equal("main", reference.Revision);
    }

    [Fact]
    public void HubReferencesKeepRepositoryQuantFileAndRevision()
    {
        var hf = ModelReference.Parse("hf.co/unsloth/gemma-3n-E4B-it-GGUF:UD-Q4_K_XL");
        Assert.Equal(("unsloth/gemma-3n-E4B-it-GGUF", "UD-Q4_K_XL", null), (hf.Repository, hf.Quant, hf.File));

        var plain = ModelReference.Parse("ggml-org/gemma-3n-E2B-it-GGUF", file: "gemma-3n-E2B-it-Q8_0.gguf", revision: "v1");
        Assert.Equal(("ggml-org/gemma-3n-E2B-it-GGUF", null, "gemma-3n-E2B-it-Q8_0.gguf", "v1"), (plain.Repository, plain.Quant, plain.File, plain.Revision));
        Assert.Equal("edgewise pull ggml-org/gemma-3n-E2B-it-GGUF --file gemma-3n-E2B-it-Q8_0.gguf --revision v1", plain.PullCommand);

        Assert.Equal("org/repo", ModelReference.Parse("https://huggingface.co/org/repo").Repository);
    }

    [Theory]
    [InlineData("gemma")]
    [InlineData("org/repo/extra")]
    [InlineData("/repo")]
    [InlineData("org/repo:")]
    [InlineData("org/../repo")]
    [InlineData("org/re po")]
    public void MalformedReferencesThrowFormatExceptionListingTheShapes(string text)
    {
        var ex = Assert.Throws<FormatException>(() => ModelReference.Parse(text));
        Assert.Contains(text.Trim(), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QuantSelectionPrefersWholeTagsAndSkipsProjectors()
    {
        HubFile[] files =
        [
            new("gemma-3n-E4B-it-Q4_0.gguf", 1, null),
            new("gemma-3n-E4B-it-Q4_K_M.gguf", 1, null),
            new("gemma-3n-E4B-it-UD-Q4_K_M.gguf", 1, null),
            new("gemma-3n-E4B-it-Q4_K_S.gguf", 1, null),
            new("mmproj-Q4_0.gguf", 1, null),
            new("README.md", 1, null),
        ];
        Assert.Equal("gemma-3n-E4B-it-Q4_K_M.gguf", FileSelector.Select(ModelReference.Parse("a/b:q4_k_m"), files).Path);
        Assert.Equal("gemma-3n-E4B-it-Q4_0.gguf", FileSelector.Select(ModelReference.Parse("a/b:Q4_0"), files).Path);
        // No tag: Q4_K_M, like llama.cpp's -hf default.
        Assert.Equal("gemma-3n-E4B-it-Q4_K_M.gguf", FileSelector.Select(ModelReference.Parse("a/b"), files).Path);
        // "Q4_K" is a prefix of several tags: it still resolves, but never to the projector.
        Assert.DoesNotContain("mmproj", FileSelector.Select(ModelReference.Parse("a/b:Q4_K"), files).Path, StringComparison.Ordinal);

        HubFile[] noDefault = [new("m-Q8_0.gguf", 1, null), new("m-F16.gguf", 1, null)];
        var ex = Assert.Throws<HubException>(() => FileSelector.Select(ModelReference.Parse("a/b"), noDefault));
        Assert.Equal(HubErrorKind.AmbiguousFile, ex.Kind);
        Assert.Contains("m-F16.gguf", ex.Message, StringComparison.Ordinal);
    }
}
