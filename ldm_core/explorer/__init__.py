"""Inside the model: what the LDM paper describes, shown on whichever models are loaded (no UI code here).

- `autoencoder`: an image's latent channel by channel, its reconstruction and PSNR, the compression factor f, latent
  edits (zero / scale / swap a channel, noise at a timestep) decoded (Sec. 3.1).
- `trajectory`: the sampler's walk from noise to image, the current latent and the predicted x̂0 at every k-th step,
  recorded through a hook on the denoiser during an ordinary run of any task (Sec. 3.2).
- `attention`: per-token cross-attention maps averaged over heads, layers and steps (DAAM, Tang et al. 2022), recorded
  by an attention processor installed on the UNet for one request (Sec. 3.3).
- `strips`: one seed across guidance scales and across step counts per sampler, with the seconds each took (Sec. 4.3).

Each entry point takes the engine and holds it (`Engine.inspecting`) for the duration, so installed hooks never see
another request.
"""
