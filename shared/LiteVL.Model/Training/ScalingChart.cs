using LiteVL.Model.Weights;

namespace LiteVL.Model.Training;

/// <summary>The learned dynamic temporal scaling per vision layer: the mean over the T frame slots of 1 + tanh(α_l).</summary>
public static class ScalingChart
{
    public static IReadOnlyList<double> LayerMeans(ModelWeights weights)
    {
        var c = weights.Config;
        var means = new double[c.Vision.NumLayers];
        for (int l = 0; l < means.Length; l++)
        {
            var alpha = weights[$"vision_model.encoder.layers.{l}.temporal_scaling"].Data;
            means[l] = Enumerable.Range(0, c.NumFrames).Average(t => 1 + Math.Tanh(alpha[t]));
        }

        return means;
    }
}
