using LiteVL.Model.Text;

namespace LiteVL.Model.Tests.Text;

/// <summary>One tokenizer over the embedded vocabulary, shared by a test class (loading it takes ~100 ms).</summary>
public sealed class BlipTokenizerFixture : IDisposable
{
    public BlipTokenizer Tokenizer { get; } = BlipTokenizer.CreateDefault();

    public void Dispose() => Tokenizer.Dispose();
}
