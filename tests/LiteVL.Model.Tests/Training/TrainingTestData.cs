using LiteVL.Model.Training;
using LiteVL.Model.Weights;

namespace LiteVL.Model.Tests.Training;

/// <summary>Synthetic training sets written as frame files, as the platform's frame extraction writes them.</summary>
internal static class TrainingTestData
{
    private static readonly string[] Words = ["red", "blue", "green", "dog", "cat", "car", "tree", "ball", "runs", "jumps", "sits", "falls", "left", "right", "up", "down"];

    /// <summary><paramref name="clips"/> clips of random frames (uint8 [T,S,S,3]) in <paramref name="dir"/>, each with distinct captions.</summary>
    public static TrainingSet SyntheticSet(string dir, ModelWeights weights, int clips, int captionsPerClip)
    {
        var c = weights.Config;
        int bytes = c.NumFrames * c.Vision.ImageSize * c.Vision.ImageSize * 3;
        var rng = new Random(42);
        var list = new List<TrainingClip>();
        var examples = new List<TrainingExample>();
        for (int i = 0; i < clips; i++)
        {
            string file = Path.Combine(dir, $"clip{i}.rgb");
            var frames = new byte[bytes];
            rng.NextBytes(frames);
            File.WriteAllBytes(file, frames);
            list.Add(new TrainingClip($"clip{i}.mp4", [file]));
            for (int k = 0; k < captionsPerClip; k++)
            {
                examples.Add(new TrainingExample(examples.Count + 1, i, $"a {Words[i % Words.Length]} {Words[(i + k + 5) % Words.Length]} {Words[(3 * i + 7) % Words.Length]}"));
            }
        }

        return new TrainingSet(list, examples);
    }
}
