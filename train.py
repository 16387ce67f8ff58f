"""Train a CRNN: python train.py [rnn=gru loss=ce trainer.max_steps=500 ...] (Hydra overrides; = ocr train)."""
from ocr.train.cli import main

if __name__ == "__main__":
    main()
